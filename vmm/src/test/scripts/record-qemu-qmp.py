#!/usr/bin/env python3
"""Record raw QMP exchanges with QEMU for Ferry's QMP conformance tests.

Starts qemu-system-x86_64 (several instances, see INSTANCES), talks to its QMP monitor over the
unix socket with plain socket I/O (no QMP library: the exact bytes matter), and writes
vmm/src/test/resources/qmp/qemu-exchanges.json. See vmm/src/test/resources/qmp/README.md.

Usage (from the repository root):

    python3 vmm/src/test/scripts/record-qemu-qmp.py [--qemu qemu-system-x86_64]
        [--elf firmware-stub/target/classes/firmware/ferry-stub.elf] [--out PATH]
        [--recorded 2026-11-21] [--only NAME_SUBSTRING] [--skip-limits]

Python 3.9+ standard library only. Needs /dev/kvm.
"""

import argparse
import base64
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
DEFAULT_ELF = os.path.join(REPO, "firmware-stub", "target", "classes", "firmware", "ferry-stub.elf")
DEFAULT_OUT = os.path.join(REPO, "vmm", "src", "test", "resources", "qmp", "qemu-exchanges.json")

ELF_PLACEHOLDER = "<firmware-elf>"
TMP_PLACEHOLDER = "<tmpdir>"

# ---------------------------------------------------------------------------------------------
# QEMU instances. Every scenario names the instance it runs on; an instance is started when the
# first scenario needs it and stopped (SIGKILL by PID) before the next instance starts.


def base_argv(qemu, elf, tmp, no_reboot=True, extra=(), monitors=1, libvirt=False):
    argv = [qemu, "-enable-kvm", "-M", "microvm", "-cpu", "host,-arch-capabilities", "-m", "64M",
            "-smp", "1", "-nodefaults", "-display", "none", "-serial", "null"]
    if no_reboot:
        argv.append("-no-reboot")
    argv += ["-kernel", elf, "-append", "mode=idle"]
    if libvirt:
        argv += ["-chardev", "socket,id=charmonitor,path=%s,server=on,wait=off" % socket_path(tmp, 0),
                 "-mon", "chardev=charmonitor,id=monitor,mode=control"]
    else:
        for i in range(monitors):
            argv += ["-qmp", "unix:%s,server=on,wait=off" % socket_path(tmp, i)]
    argv += list(extra)
    return argv


def socket_path(tmp, index):
    return os.path.join(tmp, "qmp.sock" if index == 0 else "qmp%d.sock" % (index + 1))


INSTANCES = {
    # The command line of the brief, running guest.
    "default": dict(description="the base command line; the guest runs (no -S), no -name"),
    # Started paused, with a name.
    "prelaunch": dict(description="base command line plus -S -name ferry-test", extra=["-S", "-name", "ferry-test"]),
    # Fresh copies of the base command line for commands that end QEMU.
    "reset-noreboot": dict(description="base command line (with -no-reboot), used for system_reset"),
    "reset": dict(description="base command line WITHOUT -no-reboot, used for system_reset", no_reboot=False),
    "powerdown": dict(description="base command line, used for system_powerdown"),
    "quit": dict(description="base command line, used for quit"),
    # Two QMP monitors on one QEMU.
    "two-monitors": dict(description="base command line with a second -qmp unix:<tmpdir>/qmp2.sock,server=on,wait=off",
                         monitors=2),
    # libvirt's way of creating the monitor.
    "libvirt-monitor": dict(description="base command line with the monitor given libvirt's way: -chardev "
                                        "socket,id=charmonitor,path=<tmpdir>/qmp.sock,server=on,wait=off -mon "
                                        "chardev=charmonitor,id=monitor,mode=control instead of -qmp", libvirt=True),
    # Hostile-input limits.
    "limits": dict(description="base command line, used for the large-input limit scenarios"),
}

# ---------------------------------------------------------------------------------------------
# Scenario definitions


def step(send=None, expect=1, events=0, quiet=None, linger=0.2, chunks=None, chunk_delay=0.25, gen=None,
         fds=False, fd_with=None, conn="main", summarize=None, note=None, max_time=None):
    """One exchange.

    send      bytes or str sent with one sendall(); or
    chunks    list of bytes/str sent with separate send() calls, chunk_delay seconds apart; or
    gen       (prefix, unit, count, suffix): prefix + unit*count + suffix, generated (large inputs).
    expect    number of non-event lines (return/error/other) to wait for; None = read until quiet.
    events    number of events to wait for in addition.
    quiet     seconds without data after which reading stops (default 3.0 if expect given, else 1.0).
    linger    once the expected lines are there, keep reading until this many seconds pass without data
              (catches trailing events). A step that expects nothing (expect=0, events=0) reads until
              quiet instead.
    fds       attach one file descriptor (SCM_RIGHTS) to the first sendmsg; fd_with=b" " sends the
              descriptor with that payload first (the way qemu.qmp does), then the command.
    summarize name of a summarizer for huge replies (query-commands, query-qmp-schema).
    """
    return dict(send=send, expect=expect, events=events, quiet=quiet, linger=linger, chunks=chunks,
                chunk_delay=chunk_delay, gen=gen, fds=fds, fd_with=fd_with, conn=conn, summarize=summarize,
                note=note, max_time=max_time)


def status_step(note="connection still usable: query-status"):
    return step('{"execute": "query-status"}\n', note=note)


def scenario(name, description, steps, instance="default", negotiate=True, connections=None):
    return dict(name=name, description=description, instance=instance, negotiate=negotiate, steps=steps,
                connections=connections)


CAP = '{"execute": "qmp_capabilities"}\n'
ID_VALUES = [
    ("string", '"abc-1"'),
    ("number", '42'),
    ("negative", '-7'),
    ("float", '3.14'),
    ("float-integral", '1.0'),
    ("exponent", '1e3'),
    ("big-integer", '18446744073709551615'),
    ("too-big-integer", '18446744073709551616'),
    ("object", '{"b": 1, "a": [true, null, {"c": "d"}]}'),
    ("array", '[1, "two", {"three": 3}]'),
    ("null", 'null'),
    ("true", 'true'),
    ("false", 'false'),
    ("empty-string", '""'),
    ("unicode-string", '"caf\u00e9 \u2603 \\u00e9 \\ud83d\\ude00"'),
    ("escapes-string", '"tab\\t nl\\n quote\\" slash\\/ ctl\\u0001"'),
]


def build_scenarios(skip_limits=False):
    sc = []
    add = sc.append

    # --- greeting and negotiation ---------------------------------------------------------
    add(scenario("greeting", "connect and read the greeting only; nothing is sent", [], negotiate=False))
    add(scenario("before-negotiation-query-status",
                 "a normal command before qmp_capabilities is refused with CommandNotFound",
                 [step('{"execute": "query-status"}\n'),
                  step('{"execute": "query-status", "id": "pre-1"}\n'),
                  step('{"execute": "no-such-command", "id": 5}\n'),
                  step('{"execute": "query-status", "arguments": {"x": 1}}\n',
                       note="arguments are not checked before the command lookup")],
                 negotiate=False))
    add(scenario("before-negotiation-parse-errors", "malformed input before negotiation",
                 [step('{"execute": bogus}\n', expect=None),
                  step('[1, 2]\n'),
                  step('{"execute": 1}\n'),
                  step('{"exec-oob": "query-status"}\n', note="exec-oob before negotiation"),
                  step(CAP, note="negotiation still possible after errors"),
                  status_step()],
                 negotiate=False))
    add(scenario("negotiate-no-arguments", "qmp_capabilities without arguments",
                 [step(CAP), status_step()], negotiate=False))
    add(scenario("negotiate-empty-arguments", "qmp_capabilities with arguments {}",
                 [step('{"execute": "qmp_capabilities", "arguments": {}}\n'), status_step()], negotiate=False))
    add(scenario("negotiate-enable-empty", "qmp_capabilities with {\"enable\": []}",
                 [step('{"execute": "qmp_capabilities", "arguments": {"enable": []}}\n'), status_step()],
                 negotiate=False))
    add(scenario("negotiate-enable-oob", "qmp_capabilities with {\"enable\": [\"oob\"]}, then in-band and out-of-band commands",
                 [step('{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}, "id": "cap"}\n'),
                  status_step(),
                  step('{"exec-oob": "query-status", "id": "oob-1"}\n',
                       note="an in-band-only command sent with exec-oob"),
                  step('{"exec-oob": "migrate-pause", "id": "oob-2"}\n',
                       note="an OOB-capable command sent with exec-oob"),
                  step('{"execute": "query-status", "exec-oob": "query-status", "id": "both"}\n'),
                  step('{"exec-oob": "x-oob-test", "id": "oob-3"}\n'),
                  status_step()],
                 negotiate=False))
    add(scenario("exec-oob-without-oob", "exec-oob after negotiating without the oob capability",
                 [step('{"exec-oob": "migrate-pause", "id": "o1"}\n'),
                  step('{"exec-oob": "query-status", "id": "o2"}\n'),
                  status_step()]))
    add(scenario("negotiate-enable-bogus", "qmp_capabilities with an unknown capability",
                 [step('{"execute": "qmp_capabilities", "arguments": {"enable": ["bogus"]}, "id": 1}\n'),
                  step('{"execute": "qmp_capabilities", "arguments": {"enable": "oob"}, "id": 2}\n',
                       note="enable given as a string, not a list"),
                  step('{"execute": "qmp_capabilities", "arguments": {"other": 1}, "id": 3}\n'),
                  step('{"execute": "query-status"}\n', note="still in negotiation mode?"),
                  step(CAP), status_step()],
                 negotiate=False))
    add(scenario("negotiate-twice", "qmp_capabilities a second time after negotiation",
                 [step('{"execute": "qmp_capabilities", "id": "again"}\n'),
                  step('{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}\n'),
                  status_step()]))
    add(scenario("renegotiate-on-new-connection", "negotiation state is per connection: a fresh connection must negotiate again",
                 [step('{"execute": "query-status"}\n')], negotiate=False))

    # --- id echo ---------------------------------------------------------------------------
    for label, idv in ID_VALUES:
        add(scenario("id-echo-" + label, "id %s echoed on a success reply and on error replies" % idv,
                     [step('{"execute": "query-status", "id": %s}\n' % idv, note="success"),
                      step('{"execute": "no-such-command", "id": %s}\n' % idv, note="CommandNotFound"),
                      step('{"execute": "query-status", "arguments": {"x": 1}, "id": %s}\n' % idv,
                           note="GenericError from argument checking")]))
    add(scenario("id-echo-on-input-errors", "is the id echoed when the request object itself is invalid?",
                 [step('{"execute": 1, "id": "bad-exec"}\n'),
                  step('{"id": "no-exec"}\n'),
                  step('{"execute": "query-status", "extra": 1, "id": "extra"}\n'),
                  step('{"execute": "query-status", "arguments": [], "id": "args-list"}\n'),
                  step('{"execute": "query-status", "id": "lex", "x": bogus}\n', expect=None,
                       note="lexical error inside an object that has an id"),
                  status_step()]))
    add(scenario("id-first-in-object", "id placed before execute",
                 [step('{"id": "first", "execute": "query-status"}\n')]))
    add(scenario("id-duplicate-keys", "duplicate keys in a request",
                 [step('{"execute": "query-status", "id": 1, "id": 2}\n'),
                  step('{"execute": "no-such-command", "execute": "query-status"}\n'),
                  status_step()]))

    # --- JSON and request-shape errors -----------------------------------------------------
    add(scenario("unterminated-object", "an unterminated object waits for more input; completing it later works",
                 [step('{"execute": "query-status"\n', expect=0, quiet=1.0, note="no reply expected"),
                  step('}\n', note="completes the object")]))
    add(scenario("unterminated-string-newline", "a newline inside a string",
                 [step('{"execute": "query-status\n', expect=None), status_step()]))
    add(scenario("bad-token", "a bare word where a value is expected",
                 [step('{"execute": bogus}\n', expect=None), status_step()]))
    add(scenario("bad-literal-prefix", "a token that starts like a literal",
                 [step('{"execute": "query-status", "id": tru}\n', expect=None), status_step()]))
    add(scenario("single-quotes", "QEMU's JSON parser accepts single-quoted strings (an extension)",
                 [step("{'execute': 'query-status', 'id': 'sq'}\n")]))
    add(scenario("interpolation-token", "a %-token (QEMU's internal interpolation syntax) on the wire",
                 [step('{"execute": "query-status", "id": %d}\n', expect=None), status_step()]))
    add(scenario("trailing-comma", "a trailing comma in an object",
                 [step('{"execute": "query-status",}\n', expect=None), status_step()]))
    add(scenario("missing-colon", "an object member without a colon",
                 [step('{"execute" "query-status"}\n', expect=None), status_step()]))
    add(scenario("bare-number", "a top-level number",
                 [step('42\n'), status_step()]))
    add(scenario("bare-string", "a top-level string",
                 [step('"x"\n'), status_step()]))
    add(scenario("bare-array", "a top-level array",
                 [step('[1, 2]\n'), status_step()]))
    add(scenario("bare-literals", "top-level true, null",
                 [step('true\n'), step('null\n'), status_step()]))
    add(scenario("stray-closers", "closing brackets with nothing open",
                 [step(']\n', expect=None), step('}\n', expect=None), status_step()]))
    add(scenario("execute-not-string", "execute is a number",
                 [step('{"execute": 1}\n'), status_step()]))
    add(scenario("empty-object", "an empty object",
                 [step('{}\n'), status_step()]))
    add(scenario("arguments-without-execute", "arguments but no execute",
                 [step('{"arguments": {}}\n'), status_step()]))
    add(scenario("unexpected-member", "an unknown top-level member",
                 [step('{"execute": "query-status", "extra": 1}\n'), status_step()]))
    add(scenario("arguments-not-object", "arguments is a list",
                 [step('{"execute": "query-status", "arguments": []}\n'),
                  step('{"execute": "query-status", "arguments": null}\n'),
                  status_step()]))
    add(scenario("unknown-command", "an unknown command",
                 [step('{"execute": "no-such-command"}\n'),
                  step('{"execute": ""}\n', note="empty command name"),
                  step('{"execute": "query-status ", "id": 1}\n', note="trailing space in the name"),
                  status_step()]))
    add(scenario("unexpected-parameter", "an argument a command does not take",
                 [step('{"execute": "query-status", "arguments": {"x": 1}}\n'),
                  step('{"execute": "query-status", "arguments": {"x": 1, "y": 2}}\n', note="two unexpected"),
                  status_step()]))
    add(scenario("missing-parameter", "a required argument missing",
                 [step('{"execute": "human-monitor-command", "arguments": {}}\n'),
                  step('{"execute": "human-monitor-command"}\n', note="no arguments member at all"),
                  status_step()]))
    add(scenario("wrong-parameter-type", "an argument of the wrong type",
                 [step('{"execute": "human-monitor-command", "arguments": {"command-line": 5}}\n'),
                  step('{"execute": "human-monitor-command", "arguments": {"command-line": "info status", "cpu-index": "0"}}\n',
                       note="integer argument given as a string"),
                  step('{"execute": "human-monitor-command", "arguments": {"command-line": null}}\n'),
                  status_step()]))
    add(scenario("invalid-utf8-in-string", "invalid UTF-8 sequences inside strings",
                 [step(b'{"execute": "query-status", "id": "\xc3\x28"}\n', expect=None,
                       note="invalid continuation byte"),
                  step(b'{"execute": "query-status", "id": "\x80"}\n', expect=None, note="lone continuation byte"),
                  step(b'{"execute": "query-status", "id": "\xc0\xaf"}\n', expect=None, note="overlong encoding"),
                  step(b'{"execute": "query-status", "id": "\xed\xa0\x80"}\n', expect=None,
                       note="UTF-16 surrogate encoded in UTF-8"),
                  step(b'{"execute": "query-st\xe9tus"}\n', expect=None, note="Latin-1 byte in the command name"),
                  status_step()]))
    add(scenario("valid-utf8-in-string", "valid multi-byte UTF-8 inside strings is accepted",
                 [step('{"execute": "query-status", "id": "\u00e9\u2603\U0001F600"}\n'),
                  step('{"execute": "no-such-\u00e9"}\n')]))
    add(scenario("byte-0xff-alone", "a single 0xFF byte (the documented way to reset QEMU's JSON parser)",
                 [step(b'\xff', expect=None, quiet=1.0), status_step()]))
    add(scenario("byte-0xff-resets-partial", "0xFF after an unterminated object discards it",
                 [step('{"execute": "no-such-command", "arguments": {"a": [1, 2\n', expect=0, quiet=1.0,
                       note="unterminated: no reply expected"),
                  step(b'\xff', expect=None, quiet=1.0),
                  step('{"execute": "query-status", "id": "after-ff"}\n')]))
    add(scenario("control-char-resets-partial", "an ASCII control character (0x01) after an unterminated object",
                 [step('{"execute": "no-such-command", "arguments": {"a": [1, 2\n', expect=0, quiet=1.0,
                       note="unterminated: no reply expected"),
                  step(b'\x01', expect=None, quiet=1.0),
                  step('{"execute": "query-status", "id": "after-ctl"}\n')]))
    add(scenario("nul-byte", "a NUL byte between commands",
                 [step(b'\x00', expect=None, quiet=1.0), status_step()]))
    add(scenario("whitespace-only", "empty lines and whitespace produce no reply",
                 [step('\n\r\n  \t \n', expect=0, quiet=1.0, note="no reply expected"), status_step()]))
    add(scenario("leave-partial-object", "disconnect with an unterminated object pending (the next scenario shows "
                 "that a new connection starts with a fresh parser: its greeting and negotiation are normal)",
                 [step('{"execute": "query-status", "arguments": {"a": [', expect=0, quiet=1.0,
                       note="unterminated: no reply expected")]))
    add(scenario("fresh-parser-after-disconnect", "the connection after leave-partial-object",
                 [status_step("the first command on the new connection is parsed on its own")]))
    add(scenario("split-across-sends", "one command split over several send() calls, no newline at all",
                 [step(chunks=['{"exec', 'ute": "query-', 'status", "id', '": "split"', '}'], note="no trailing newline"),
                  step(chunks=['{"execute": "query-status", "id": "split-2"', '}\n'])]))
    add(scenario("no-newline", "a complete object without a trailing newline is executed at once",
                 [step('{"execute": "query-status", "id": "nonl"}')]))
    add(scenario("number-needs-terminator", "a top-level number without a delimiter after it",
                 [step('42', expect=None, quiet=1.0, note="no terminator yet: no reply expected"),
                  step('\n', expect=None, quiet=1.0)]))
    add(scenario("pipelining", "several commands in one send(); replies come in order",
                 [step('{"execute": "query-status", "id": 1}{"execute": "no-such-command", "id": 2}'
                       '{"execute": "query-version", "id": 3}\n{"execute": "query-name", "id": 4}\r\n'
                       '{"execute": "query-kvm", "id": 5} {"execute": "query-status", "arguments": {"x": 1}, "id": 6}\n',
                       expect=6),
                  step(''.join('{"execute": "query-status", "id": %d}' % i for i in range(20)) + '\n', expect=20,
                       note="more than QEMU's request queue length (8)")]))
    add(scenario("pipelining-with-errors", "parse errors in the middle of a pipelined batch",
                 [step('{"execute": "query-status", "id": "a"}[1]{"execute": bogus}{"execute": "query-status", "id": "b"}\n',
                       expect=None)]))

    # --- nesting and size ------------------------------------------------------------------
    def nested(depth):
        return '{"execute": "query-status", "arguments": {"x": ' + '[' * depth + ']' * depth + '}}\n'

    add(scenario("nesting-at-limit", "arguments nested to a total depth of 1024 (2 objects + 1022 arrays)",
                 [step(nested(1022), expect=None, quiet=1.5), status_step()]))
    add(scenario("nesting-over-limit", "total depth 1025 (2 objects + 1023 arrays)",
                 [step(nested(1023), expect=None, quiet=1.5), status_step()]))
    add(scenario("nesting-2000", "2000 nested arrays as an argument",
                 [step(nested(2000), expect=None, quiet=1.5), status_step()]))
    add(scenario("large-100k-string", "a 100 KB string argument to an unknown command",
                 [step(gen=('{"execute": "no-such-command", "arguments": {"s": "', 'a', 100 * 1024, '"}}\n')),
                  status_step()]))
    add(scenario("large-100k-unknown-name", "a 100 KB unknown command name (is it echoed in the error?)",
                 [step(gen=('{"execute": "', 'b', 100 * 1024, '"}\n'), summarize="long-lines"),
                  status_step()]))
    if not skip_limits:
        add(scenario("token-count-over-limit",
                     "a message of 2^21+1 tokens before it is complete (QEMU's MAX_TOKEN_COUNT is 2^21): 11 tokens "
                     "of prefix, then 1048571 '0,' pairs; the limit trips on the last ',' and the rest '0]}}' is "
                     "parsed as new input",
                     [step(gen=('{"execute": "no-such-command", "arguments": {"a": [', '0,', ((1 << 21) + 1 - 11) // 2,
                                '0]}}\n'),
                           expect=None, quiet=3.0, max_time=600),
                      status_step()],
                     instance="limits"))
        add(scenario("token-size-over-limit",
                     "a 64 MiB + 1 KiB string (more than QEMU's MAX_TOKEN_SIZE of 64 MiB)",
                     [step(gen=('{"execute": "no-such-command", "arguments": {"s": "', 'c', (64 << 20) + 1024, '"}}\n'),
                           expect=None, quiet=3.0, max_time=900),
                      status_step()],
                     instance="limits"))

    # --- commands with real replies --------------------------------------------------------
    add(scenario("query-version", "query-version", [step('{"execute": "query-version", "id": "v"}\n')]))
    add(scenario("query-status-running", "query-status of a running guest (no -S)",
                 [step('{"execute": "query-status"}\n')]))
    add(scenario("query-name-unset", "query-name without -name", [step('{"execute": "query-name"}\n')]))
    add(scenario("query-kvm", "query-kvm", [step('{"execute": "query-kvm"}\n')]))
    add(scenario("query-cpus-fast", "query-cpus-fast on microvm, 1 vCPU", [step('{"execute": "query-cpus-fast"}\n')]))
    add(scenario("query-memory-size-summary", "query-memory-size-summary with -m 64M",
                 [step('{"execute": "query-memory-size-summary"}\n')]))
    add(scenario("human-monitor-command", "HMP passthrough",
                 [step('{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}\n'),
                  step('{"execute": "human-monitor-command", "arguments": {"command-line": "info name"}}\n'),
                  step('{"execute": "human-monitor-command", "arguments": {"command-line": "no-such-hmp"}}\n'),
                  step('{"execute": "human-monitor-command", "arguments": {"command-line": ""}}\n'),
                  step('{"execute": "human-monitor-command", "arguments": {"command-line": "info status", "cpu-index": 7}}\n',
                       note="a vCPU index that does not exist")]))
    add(scenario("query-commands", "query-commands (summarized: count and selected names)",
                 [step('{"execute": "query-commands"}\n', summarize="query-commands")]))
    add(scenario("query-qmp-schema", "query-qmp-schema (summarized)",
                 [step('{"execute": "query-qmp-schema"}\n', summarize="query-qmp-schema")]))
    add(scenario("fd-errors", "getfd/closefd/add-fd without a passed descriptor",
                 [step('{"execute": "getfd", "arguments": {"fdname": "fd0"}}\n'),
                  step('{"execute": "closefd", "arguments": {"fdname": "nope"}}\n'),
                  step('{"execute": "add-fd"}\n'),
                  step('{"execute": "add-fd", "arguments": {"fdset-id": 3}}\n'),
                  step('{"execute": "remove-fd", "arguments": {"fdset-id": 99}}\n'),
                  step('{"execute": "getfd", "arguments": {"fdname": "1badname"}}\n', note="fdname starting with a digit"),
                  step('{"execute": "getfd"}\n', note="fdname missing"),
                  status_step()]))
    add(scenario("fd-passing", "getfd/closefd/add-fd with a descriptor passed by SCM_RIGHTS",
                 [step('{"execute": "getfd", "arguments": {"fdname": "fd-with-space"}}\n', fds=True, fd_with=b" ",
                       note="descriptor sent with a single space byte first (qemu.qmp style), then the command"),
                  step('{"execute": "getfd", "arguments": {"fdname": "fd-with-cmd"}}\n', fds=True,
                       note="descriptor attached to the command bytes themselves"),
                  step('{"execute": "getfd", "arguments": {"fdname": "fd-with-cmd"}}\n', fds=True,
                       note="same name again: replaces the old descriptor"),
                  step('{"execute": "closefd", "arguments": {"fdname": "fd-with-space"}}\n'),
                  step('{"execute": "closefd", "arguments": {"fdname": "fd-with-space"}}\n', note="already closed"),
                  step('{"execute": "add-fd", "arguments": {"opaque": "test"}}\n', fds=True,
                       note="fd numbers in the reply are QEMU's own"),
                  step('{"execute": "query-fdsets"}\n'),
                  step('{"execute": "remove-fd", "arguments": {"fdset-id": 0}}\n'),
                  step('{"execute": "getfd", "arguments": {"fdname": "no-fd"}}\n',
                       note="after the descriptors were consumed, none is pending")]))

    # --- run state and events on the default instance ------------------------------------------
    add(scenario("stop-cont", "stop (STOP event), stop again, cont (RESUME event), cont while running",
                 [step('{"execute": "stop", "id": "s1"}\n', events=1),
                  step('{"execute": "query-status"}\n'),
                  step('{"execute": "stop", "id": "s2"}\n', linger=1.0, note="already paused: is there an event?"),
                  step('{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}\n'),
                  step('{"execute": "cont", "id": "c1"}\n', events=1),
                  step('{"execute": "query-status"}\n'),
                  step('{"execute": "cont", "id": "c2"}\n', linger=1.0,
                       note="cont while running: is there an event?")]))
    add(scenario("events-before-negotiation", "events are not sent on a connection still in negotiation mode",
                 [step('{"execute": "stop", "id": "a-stop"}\n', events=1, conn="a"),
                  step('{"execute": "cont", "id": "a-cont"}\n', events=1, conn="a"),
                  step('{"execute": "qmp_capabilities"}\n', conn="b", quiet=1.0,
                       note="monitor b saw nothing before this?"),
                  step('{"execute": "stop", "id": "a-stop2"}\n', events=1, conn="a"),
                  step('', expect=0, quiet=1.0, conn="b", note="read monitor b: the STOP event after negotiation"),
                  step('{"execute": "cont", "id": "b-cont"}\n', events=1, conn="b"),
                  step('', expect=0, quiet=1.0, conn="a", note="read monitor a: the RESUME event caused by b")],
                 instance="two-monitors", negotiate=False,
                 connections={"a": dict(monitor=0, negotiate=True), "b": dict(monitor=1, negotiate=False)}))

    # --- migration commands on the default instance (no -incoming, nothing migrating) -----------
    # Only refused requests and queries: a scenario must leave the instance as it found it (QEMU
    # 7.2 accepts max-bandwidth -1 as 2^64-1, so that request is not among them).
    add(scenario("migration-queries-before-any", "query-migrate and its capability/parameter queries, no migration yet",
                 [step('{"execute": "query-migrate", "id": "qm"}\n'),
                  step('{"execute": "query-migrate-capabilities", "id": "qmc"}\n'),
                  step('{"execute": "query-migrate-parameters", "id": "qmp"}\n')]))
    add(scenario("migration-set-capabilities-refused", "migrate-set-capabilities with malformed or unknown capabilities",
                 [step('{"execute": "migrate-set-capabilities", "arguments": {"capabilities": '
                       '[{"capability": "bogus", "state": true}]}, "id": 1}\n'),
                  step('{"execute": "migrate-set-capabilities", "arguments": {"capabilities": '
                       '[{"capability": "events"}]}, "id": 2}\n', note="state missing"),
                  step('{"execute": "migrate-set-capabilities", "arguments": {"capabilities": "events"}, "id": 3}\n'),
                  step('{"execute": "migrate-set-capabilities", "id": 4}\n', note="capabilities missing")]))
    add(scenario("migration-set-parameters-refused", "migrate-set-parameters outside QEMU's ranges",
                 [step('{"execute": "migrate-set-parameters", "arguments": {"downtime-limit": 2000001}, "id": 1}\n'),
                  step('{"execute": "migrate-set-parameters", "arguments": {"downtime-limit": -1}, "id": 2}\n'),
                  step('{"execute": "migrate-set-parameters", "arguments": {"multifd-channels": 0}, "id": 4}\n'),
                  step('{"execute": "migrate-set-parameters", "arguments": {"multifd-channels": 256}, "id": 5}\n'),
                  step('{"execute": "migrate-set-parameters", "arguments": {"cpu-throttle-initial": 100}, "id": 6}\n'),
                  step('{"execute": "migrate-set-parameters", "arguments": {"cpu-throttle-increment": 0}, "id": 7}\n'),
                  step('{"execute": "migrate-set-parameters", "arguments": {"bogus-parameter": 1}, "id": 8}\n'),
                  step('{"execute": "migrate-set-parameters", "arguments": {"downtime-limit": "300"}, "id": 9}\n'),
                  step('{"execute": "query-migrate-parameters", "id": 10}\n', note="nothing was changed")]))
    add(scenario("migration-idle-control", "migrate_cancel, migrate-continue and migrate-incoming with nothing to act on",
                 [step('{"execute": "migrate_cancel", "id": 1}\n', note="no migration: a no-op"),
                  step('{"execute": "migrate-continue", "arguments": {"state": "pre-switchover"}, "id": 2}\n'),
                  step('{"execute": "migrate-continue", "arguments": {"state": "bogus"}, "id": 3}\n'),
                  step('{"execute": "migrate-incoming", "arguments": {"uri": "tcp:127.0.0.1:0"}, "id": 4}\n',
                       note="not started with -incoming"),
                  step('{"execute": "query-migrate", "id": 5}\n')]))
    add(scenario("migration-migrate-refused", "migrate with a missing or unusable uri",
                 [step('{"execute": "migrate", "id": 1}\n'),
                  step('{"execute": "migrate", "arguments": {"uri": "bogus:1"}, "id": 2}\n'),
                  step('{"execute": "migrate", "arguments": {"uri": 5}, "id": 3}\n'),
                  step('{"execute": "migrate", "arguments": {"uri": "fd:no-such-fd"}, "id": 4}\n'),
                  step('{"execute": "query-migrate", "id": 5}\n', note="nothing started")]))

    # --- libvirt-style monitor -----------------------------------------------------------------
    add(scenario("libvirt-monitor", "greeting, negotiation and a command on a monitor created with -chardev/-mon",
                 [step('{"execute": "query-status", "id": "libvirt-1"}\n'),
                  step('{"execute": "no-such-command", "id": "libvirt-2"}\n')],
                 instance="libvirt-monitor"))

    # --- prelaunch (-S) instance -------------------------------------------------------------
    add(scenario("query-status-prelaunch", "query-status with -S", [step('{"execute": "query-status"}\n')],
                 instance="prelaunch"))
    add(scenario("query-name-set", "query-name with -name ferry-test", [step('{"execute": "query-name"}\n')],
                 instance="prelaunch"))
    add(scenario("stop-in-prelaunch", "stop while in prelaunch",
                 [step('{"execute": "stop"}\n', linger=1.0, note="is there a STOP event?"),
                  step('{"execute": "query-status"}\n')],
                 instance="prelaunch"))
    add(scenario("cont-from-prelaunch", "cont from prelaunch (RESUME event)",
                 [step('{"execute": "cont"}\n', events=1), step('{"execute": "query-status"}\n')],
                 instance="prelaunch"))

    # --- commands that end or reset the machine ----------------------------------------------------
    add(scenario("system-reset-no-reboot", "system_reset with -no-reboot: QEMU treats the reset as a shutdown",
                 [step('{"execute": "system_reset", "id": "r"}\n', events=1, linger=2.0)],
                 instance="reset-noreboot"))
    add(scenario("system-reset", "system_reset without -no-reboot (RESET event)",
                 [step('{"execute": "system_reset", "id": "r"}\n', events=1, linger=1.0),
                  step('{"execute": "query-status"}\n')],
                 instance="reset"))
    add(scenario("system-powerdown", "system_powerdown (POWERDOWN event; the idle stub guest has no ACPI handler)",
                 [step('{"execute": "system_powerdown", "id": "p"}\n', events=1, linger=2.0,
                       note="lingers 2 s: nothing else follows, the guest ignores the request"),
                  step('{"execute": "query-status"}\n')],
                 instance="powerdown"))
    add(scenario("quit", "quit: reply, SHUTDOWN event, then QEMU closes the connection and exits",
                 [step('{"execute": "quit", "id": "q"}\n', events=1, linger=2.0)],
                 instance="quit"))
    return sc


# ---------------------------------------------------------------------------------------------
# Wire helpers


def to_bytes(x):
    if x is None:
        return b""
    return x if isinstance(x, bytes) else x.encode("utf-8")


def describe_send(data):
    """JSON fields describing bytes sent."""
    try:
        return {"send": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"send_base64": base64.b64encode(data).decode("ascii"),
                "send_escaped": data.decode("latin-1").encode("unicode_escape").decode("ascii")}


def classify(obj):
    if isinstance(obj, dict):
        for k in ("event", "return", "error", "QMP"):
            if k in obj:
                return "greeting" if k == "QMP" else k
    return "other"


class Connection:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.sock.settimeout(None)
        self.buf = b""
        self.closed = False

    def read_lines(self, timeout):
        """Wait up to timeout for data; return list of (line_bytes_without_eol, eol) that are complete."""
        if self.closed:
            return [], False
        # The socket stays blocking (a sender thread may be in sendall() at the same time), so wait
        # with select() instead of a socket timeout.
        readable, _, _ = select.select([self.sock], [], [], timeout)
        if not readable:
            return [], False
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return [], True
        self.buf += data
        out = []
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if line.endswith(b"\r"):
                out.append((line[:-1], "\r\n"))
            else:
                out.append((line, "\n"))
        return out, True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def decode_line(line, eol):
    rec = {"eol": eol}
    try:
        text = line.decode("utf-8")
        rec["raw"] = text
    except UnicodeDecodeError:
        rec["raw"] = None
        rec["raw_base64"] = base64.b64encode(line).decode("ascii")
        text = None
    try:
        rec["parsed"] = json.loads(text) if text is not None else None
        rec["kind"] = classify(rec["parsed"])
    except ValueError:
        rec["parsed"] = None
        rec["kind"] = "unparsed"
    return rec


def read_greeting(conn, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines, _ = conn.read_lines(max(0.05, deadline - time.monotonic()))
        if lines:
            assert len(lines) == 1, lines
            return decode_line(*lines[0])
        if conn.closed:
            break
    raise RuntimeError("no greeting")


def do_send(conn, st, payload_parts):
    sock = conn.sock
    for i, part in enumerate(payload_parts):
        if i:
            time.sleep(st["chunk_delay"])
        if st["fds"] and i == 0:
            r, w = os.pipe()
            try:
                if st["fd_with"] is not None:
                    socket.send_fds(sock, [st["fd_with"]], [r])
                    time.sleep(0.1)
                    sock.sendall(part)
                else:
                    n = socket.send_fds(sock, [part], [r])
                    if n < len(part):
                        sock.sendall(part[n:])
            finally:
                os.close(r)
                os.close(w)
        else:
            sock.sendall(part)


def exchange(conn, st):
    """Send one step and collect what comes back. Returns the step record."""
    rec = {}
    if st["gen"] is not None:
        prefix, unit, count, suffix = st["gen"]
        payload = prefix.encode() + unit.encode() * count + suffix.encode()
        parts = [payload]
        rec["send_generated"] = {"prefix": prefix, "unit": unit, "count": count, "suffix": suffix}
        rec["send_length"] = len(payload)
    elif st["chunks"] is not None:
        parts = [to_bytes(c) for c in st["chunks"]]
        rec.update(describe_send(b"".join(parts)))
        rec["send_chunks"] = [describe_send(p).get("send") for p in parts]
        rec["chunk_delay_seconds"] = st["chunk_delay"]
    else:
        parts = [to_bytes(st["send"])] if st["send"] else []
        rec.update(describe_send(b"".join(parts)))
    if st["fds"]:
        rec["send_fd"] = ("descriptor sent with a separate %r payload before the command" % st["fd_with"].decode()
                          if st["fd_with"] is not None else "descriptor attached to the command bytes")
    if st["note"]:
        rec["note"] = st["note"]

    expect, want_events = st["expect"], st["events"]
    quiet = st["quiet"] if st["quiet"] is not None else (3.0 if expect is not None else 1.0)
    max_time = st["max_time"] or 30.0
    lines = []
    send_error = []
    t0 = time.monotonic()
    sender = None
    if parts:
        def run():
            try:
                do_send(conn, st, parts)
            except OSError as e:
                send_error.append(repr(e))
        sender = threading.Thread(target=run, daemon=True)
        sender.start()
    last_data = time.monotonic()
    send_done_at = None
    done_at = None
    while True:
        now = time.monotonic()
        if sender is not None and not sender.is_alive() and send_done_at is None:
            send_done_at = now
            last_data = max(last_data, now)
        sending = sender is not None and sender.is_alive()
        n_rep = sum(1 for l in lines if l["kind"] != "event")
        n_ev = sum(1 for l in lines if l["kind"] == "event")
        if (not sending and expect is not None and n_rep >= expect and n_ev >= want_events and done_at is None
                and (expect or want_events)):
            done_at = now
        if done_at is not None and now - last_data >= st["linger"]:
            break  # expected lines arrived; linger 0.2 s for trailing events
        if not sending and done_at is None and now - last_data >= quiet:
            rec["quiet_timeout"] = True
            break
        if now - t0 > max_time:
            rec["max_time_reached"] = True
            break
        if conn.closed:
            break
        got, _ = conn.read_lines(0.05)
        if got:
            last_data = time.monotonic()
            lines.extend(decode_line(l, e) for l, e in got)
    rec["elapsed_ms"] = int((time.monotonic() - t0) * 1000)
    if send_error:
        rec["send_error"] = send_error
    if sender is not None and sender.is_alive():
        rec["send_incomplete"] = True
    rec["replies"] = [l["parsed"] for l in lines]
    rec["kinds"] = [l["kind"] for l in lines]
    rec["raw"] = [l["raw"] for l in lines]
    if any(l.get("raw_base64") for l in lines):
        rec["raw_base64"] = [l.get("raw_base64") for l in lines]
    eols = sorted(set(l["eol"] for l in lines))
    rec["line_ending"] = eols[0] if len(eols) == 1 else (eols or None)
    if conn.buf:
        rec["partial_line"] = conn.buf.decode("utf-8", "replace")
    if conn.closed:
        rec["connection_closed"] = True
    summarize(rec, st["summarize"])
    return rec


def summarize(rec, how):
    if how is None:
        return
    if how == "query-commands":
        ret = rec["replies"][0]["return"]
        names = sorted(c["name"] for c in ret)
        keys = sorted(set(k for c in ret for k in c))
        rec["summary"] = {"count": len(ret), "entry_keys": keys,
                          "first_entries_raw_order": ret[:5],
                          "contains": {n: (n in names) for n in
                                       ["qmp_capabilities", "query-status", "query-version", "query-commands",
                                        "query-qmp-schema", "stop", "cont", "quit", "system_reset",
                                        "system_powerdown", "human-monitor-command", "getfd", "closefd", "add-fd",
                                        "query-name", "query-kvm", "query-cpus-fast", "query-memory-size-summary",
                                        "migrate", "migrate-incoming", "x-oob-test"]},
                          "raw_length": len(rec["raw"][0])}
    elif how == "query-qmp-schema":
        ret = rec["replies"][0]["return"]
        meta = {}
        for e in ret:
            meta[e["meta-type"]] = meta.get(e["meta-type"], 0) + 1
        byname = {e["name"]: e for e in ret}
        cmd = byname.get("query-status")
        sample = {"query-status": cmd}
        if cmd:
            sample["ret-type:" + cmd["ret-type"]] = byname.get(cmd["ret-type"])
        sample["STOP"] = byname.get("STOP")
        sample["SHUTDOWN"] = byname.get("SHUTDOWN")
        if sample["SHUTDOWN"]:
            sample["arg-type:" + sample["SHUTDOWN"]["arg-type"]] = byname.get(sample["SHUTDOWN"]["arg-type"])
        rec["summary"] = {"count": len(ret), "meta_types": meta, "first_entries": ret[:3], "samples": sample,
                          "raw_length": len(rec["raw"][0])}
    elif how == "long-lines":
        rec["summary"] = {"raw_lengths": [len(r) if r else None for r in rec["raw"]]}
        rec["raw"] = [r if r is None or len(r) <= 300 else r[:150] + "...<%d chars>..." % len(r) + r[-100:]
                      for r in rec["raw"]]
        rec["replies"] = [None if r is None else json.loads(json.dumps(r)) for r in rec["replies"]]
        for rep in rec["replies"]:
            if isinstance(rep, dict) and isinstance(rep.get("error"), dict):
                d = rep["error"].get("desc", "")
                if len(d) > 300:
                    rep["error"]["desc"] = d[:120] + "...<%d chars>..." % len(d) + d[-60:]
        rec["summary"]["truncated"] = True
        return
    else:
        raise ValueError(how)
    rec["replies"] = None
    rec["raw"] = None
    rec["truncated"] = True


# ---------------------------------------------------------------------------------------------
# QEMU process handling


class Qemu:
    def __init__(self, name, args, tmp_root):
        self.name = name
        spec = INSTANCES[name]
        self.tmp = tempfile.mkdtemp(prefix="qmp-%s-" % name, dir=tmp_root)
        self.monitors = spec.get("monitors", 1)
        self.argv = base_argv(args.qemu, args.elf, self.tmp, no_reboot=spec.get("no_reboot", True),
                              extra=spec.get("extra", ()), monitors=self.monitors,
                              libvirt=spec.get("libvirt", False))
        self.stderr_path = os.path.join(self.tmp, "stderr.txt")
        self.proc = None

    def placeholder_argv(self, elf):
        out = []
        for a in self.argv:
            a = a.replace(elf, ELF_PLACEHOLDER).replace(self.tmp, TMP_PLACEHOLDER)
            out.append(a)
        out[0] = os.path.basename(out[0])
        return out

    def start(self):
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("QEMU exited early (%s): %s" % (self.proc.returncode, self.stderr()))
            if all(os.path.exists(socket_path(self.tmp, i)) for i in range(self.monitors)):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("QEMU monitor socket did not appear")
            time.sleep(0.05)

    def socket_modes(self):
        """Permission bits of the monitor sockets QEMU created (they depend on the umask it inherited)."""
        return {os.path.basename(socket_path(self.tmp, i)): "%04o" % (os.stat(socket_path(self.tmp, i)).st_mode & 0o7777)
                for i in range(self.monitors)}

    def socket(self, index=0):
        return socket_path(self.tmp, index)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


# ---------------------------------------------------------------------------------------------


def negotiate(conn):
    st = step(CAP)
    return exchange(conn, st)


def run_scenario(qemu, sc):
    out = {"name": sc["name"], "description": sc["description"], "instance": sc["instance"],
           "negotiate": sc["negotiate"]}
    conns = {}
    conn_specs = sc["connections"] or {"main": dict(monitor=0, negotiate=sc["negotiate"])}
    try:
        if sc["connections"]:
            out["connections"] = {}
        for cname, spec in conn_specs.items():
            c = Connection(qemu.socket(spec["monitor"]))
            conns[cname] = c
            g = read_greeting(c)
            info = {"greeting_raw": g["raw"], "greeting_line_ending": g["eol"]}
            if spec["negotiate"]:
                info["negotiation"] = negotiate(c)
            if sc["connections"]:
                info["monitor"] = spec["monitor"]
                info["negotiate"] = spec["negotiate"]
                out["connections"][cname] = info
            else:
                out["greeting_raw"] = info["greeting_raw"]
                if "negotiation" in info:
                    out["negotiation"] = info["negotiation"]
        steps = []
        for st in sc["steps"]:
            conn = conns["main" if not sc["connections"] else st["conn"]]
            if conn.closed:
                raise RuntimeError("scenario %s: step after QEMU closed the connection" % sc["name"])
            rec = exchange(conn, st)
            if sc["connections"]:
                rec = {"connection": st["conn"], **rec}
            steps.append(rec)
        out["steps"] = steps
    finally:
        for c in conns.values():
            c.close()
    time.sleep(0.1)
    out["qemu_alive_after"] = qemu.alive()
    if not qemu.alive():
        out["qemu_exit_status"] = qemu.proc.returncode
    return out


def pretty(value, indent=0, width=110):
    """JSON with small values on one line and larger ones expanded, one list element per line."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, (dict, list)) or len(flat) + indent <= width or not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, list):
        items = [pad + pretty(v, indent + 2, width) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    items = [pad + json.dumps(k, ensure_ascii=False) + ": " + pretty(v, indent + 2, width).lstrip()
             for k, v in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--elf", default=DEFAULT_ELF)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--recorded", default="2026-11-21", help="date written into the JSON")
    ap.add_argument("--only", help="run only scenarios whose name contains this (writes to stdout)")
    ap.add_argument("--skip-limits", action="store_true", help="skip the slow 2M-token and 64 MiB scenarios")
    args = ap.parse_args()
    args.qemu = shutil.which(args.qemu) or args.qemu
    args.elf = os.path.abspath(args.elf)
    if not os.path.exists(args.elf):
        sys.exit("firmware ELF missing: %s (build: mvn -B -q -o package -DskipTests)" % args.elf)

    version = subprocess.run([args.qemu, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    scenarios = build_scenarios(args.skip_limits)
    if args.only:
        scenarios = [s for s in scenarios if args.only in s["name"]]
    # keep scenarios of one instance together, in first-use order of the instance
    order = []
    for s in scenarios:
        if s["instance"] not in order:
            order.append(s["instance"])
    scenarios.sort(key=lambda s: order.index(s["instance"]))

    umask = os.umask(0o022)
    os.umask(umask)
    tmp_root = tempfile.mkdtemp(prefix="ferry-qmp-record-")
    results, instances, pids = [], {}, []
    greeting = None
    current = None
    try:
        for sc in scenarios:
            if current is None or current.name != sc["instance"]:
                if current is not None:
                    current.stop()
                    instances[current.name]["stderr"] = current.stderr()
                current = Qemu(sc["instance"], args, tmp_root)
                current.start()
                pids.append(current.proc.pid)
                instances[current.name] = {"description": INSTANCES[current.name]["description"],
                                           "command": current.placeholder_argv(args.elf),
                                           "umask": "%04o" % umask, "socket_modes": current.socket_modes()}
            print("scenario %-36s (%s)" % (sc["name"], sc["instance"]), file=sys.stderr, flush=True)
            if not current.alive():
                raise RuntimeError("QEMU instance %s is not running: %s" % (current.name, current.stderr()))
            rec = run_scenario(current, sc)
            if greeting is None and rec.get("greeting_raw"):
                greeting = rec["greeting_raw"]
            results.append(rec)
        if current is not None:
            current.stop()
            instances[current.name]["stderr"] = current.stderr()
    finally:
        if current is not None:
            current.stop()
        shutil.rmtree(tmp_root, ignore_errors=True)
        for pid in pids:
            if os.path.exists("/proc/%d" % pid):
                try:
                    with open("/proc/%d/stat" % pid) as f:
                        state = f.read().split(")")[-1].split()[0]
                except OSError:
                    state = "?"
                if state != "Z":
                    print("WARNING: QEMU pid %d still exists" % pid, file=sys.stderr)

    all_eols = set()
    for r in results:
        for s in r.get("steps", []):
            le = s.get("line_ending")
            if isinstance(le, list):
                all_eols.update(le)
            elif le:
                all_eols.add(le)
    doc = {
        "qemu_version": version,
        "recorded": args.recorded,
        "command": instances.get("default", next(iter(instances.values()), {})).get("command"),
        "line_ending": all_eols.pop() if len(all_eols) == 1 else sorted(all_eols),
        "greeting": json.loads(greeting) if greeting else None,
        "greeting_raw": greeting,
        "instances": instances,
        "scenarios": results,
    }
    text = pretty(doc) + "\n"
    if json.loads(text) != doc:
        raise AssertionError("pretty printer does not round-trip")
    if args.only:
        sys.stdout.write(text)
    else:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print("wrote %s (%d scenarios)" % (args.out, len(results)), file=sys.stderr)


if __name__ == "__main__":
    main()
