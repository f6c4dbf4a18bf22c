#!/usr/bin/env python3
"""Live migration: QEMU (microvm, pc) and Ferry side by side, over loopback TCP, in one run.

Each row migrates a running guest (the same firmware ELF for every VMM, workload options via
fw_cfg opt/ferry/cmdline) from a source VMM process to a target VMM process started with
`-incoming defer`, with the QMP sequence libvirt uses, identical for every VMM:

  both    qmp_capabilities; migrate-set-capabilities events=on, multifd=on|off;
          migrate-set-parameters multifd-channels=N (multifd only)
  source  migrate-set-parameters max-bandwidth=<huge> downtime-limit=<--downtime-limit>
  target  migrate-incoming uri=tcp:127.0.0.1:PORT
  source  migrate uri=tcp:127.0.0.1:PORT; query-migrate every 20 ms until completed/failed

The figures are the source's final query-migrate (total-time, downtime, setup-time,
ram.transferred, ram.dirty-sync-count); throughput = transferred / total-time. A run counts only
if the target then reports `running` and its serial console prints a heartbeat that continues the
source's counter with errors=0. Rows are interleaved over --runs; the table shows the median and
min-max. The machine's loopback TCP ceiling is measured in the same run.

Standard library only. Every process started is stopped by PID (QMP quit, then SIGTERM/SIGKILL)
in a finally block, also on errors, timeouts and Ctrl-C; a pgrep check at the end confirms that
none is left. See bench/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import (BenchError, ELF, JAR, QEMU, ROOT, STARTED, TARGET, foreign_vmms, jar_stamp,
                      launcher_java_command, log, make_snapshot, spawn, started_left, stop,
                      wait_for_foreign_vmms, wait_settled)

VMMS = ("qemu-microvm", "qemu-pc", "ferry")
HB_RE = re.compile(r"ferry: hb=(\d+) uptime_ms=\d+ cpus=\d+ touched_mib=(\d+) pages_verified=\d+ "
                   r"pages_written=\d+ errors=(\d+)")
HUGE_BANDWIDTH = 100 << 30           # bytes/s: QEMU's default limit (128 MiB/s) must not decide
DONE = ("completed", "failed", "cancelled")


# ------------------------------------------------------------------------------------------
# QMP and the serial console
# ------------------------------------------------------------------------------------------

class Qmp:
    """A QMP client on a unix socket: one command at a time, events kept in self.events."""

    def __init__(self, path, proc, deadline, log_to):
        self.buf, self.events, self.log_to = b"", [], log_to
        while True:
            if proc.poll() is not None:
                raise BenchError(f"exited with status {proc.returncode} before its QMP monitor accepted")
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise BenchError(f"no QMP monitor at {path} in time")
                time.sleep(0.01)
        self.sock.settimeout(10)
        if "QMP" not in self._read():
            raise BenchError("no QMP greeting")
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise BenchError("the VMM closed the QMP connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        self.log_to.write(f"{time.monotonic():.3f} <- {line.decode(errors='replace')}\n")
        return json.loads(line)

    def cmd(self, execute, **args):
        msg = {"execute": execute, **({"arguments": args} if args else {})}
        self.log_to.write(f"{time.monotonic():.3f} -> {json.dumps(msg)}\n")
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._read()
            if "event" in r:
                self.events.append(r)
            elif "error" in r:
                raise BenchError(f"{execute}: {r['error'].get('desc', r['error'])}")
            elif "return" in r:
                return r["return"]

    def close(self):
        self.sock.close()


class Serial:
    """The guest's serial console in a file (-serial file:PATH), read incrementally."""

    def __init__(self, path):
        self.path, self.offset, self.rest, self.hbs, self.errors = path, 0, b"", [], []

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        *lines, self.rest = (self.rest + data).split(b"\n")
        for line in lines:
            text = line.decode(errors="replace")
            m = HB_RE.search(text)
            if m:
                self.hbs.append({"hb": int(m.group(1)), "touched_mib": int(m.group(2)), "errors": int(m.group(3))})
            elif "ERROR" in text or "exception" in text:
                self.errors.append(text.strip())

    def wait(self, pred, deadline, proc, what):
        while True:
            self.poll()
            if self.errors:
                raise BenchError(f"guest reported: {self.errors[0]}")
            if pred(self.hbs):
                return self.hbs[-1]
            if proc.poll() is not None:
                raise BenchError(f"exited with status {proc.returncode} while waiting for {what}")
            if time.monotonic() > deadline:
                raise BenchError(f"timeout waiting for {what}")
            time.sleep(0.02)


# ------------------------------------------------------------------------------------------
# One migration
# ------------------------------------------------------------------------------------------

def vmm_argv(opts, vmm, ram, workload, d, role):
    args = ["-m", ram, "-smp", str(opts.smp), "-kernel", str(opts.elf), "-no-reboot",
            "-fw_cfg", f"name=opt/ferry/cmdline,string={workload}", "-display", "none",
            "-serial", f"file:{d / (role + '.serial')}", "-qmp", f"unix:{d / (role + '.qmp')},server=on,wait=off"]
    if role == "target":
        args += ["-incoming", "defer"]
    if vmm == "ferry":
        return launcher_java_command(args, opts.target_dir)[0]
    return [QEMU, "-enable-kvm", "-M", vmm.split("-", 1)[1], "-cpu", "host,-arch-capabilities",
            "-nodefaults", "-no-user-config", *args]


def event_time(e):
    return e["timestamp"]["seconds"] + e["timestamp"]["microseconds"] / 1e6


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stderr_tail(path, n=3):
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return (" [stderr: " + " | ".join(lines[-n:]) + "]") if lines else ""


def workload_options(opts, ram, wl):
    """The guest's options for a row: the workload's, with mem= of the scale row for its RAM size."""
    options = opts.workloads[wl]
    if opts.scale and ram == opts.scale[0]:
        options = re.sub(r"\bmem=\d+", f"mem={opts.scale[1]}", options)
    return options


def first_touch_gb_s(size_mib=1024):
    """What `dd if=/dev/zero of=/dev/shm/x bs=1M count=1024` measures: how fast this machine
    faults in fresh shared memory (a target's first pass writes into exactly such pages)."""
    path = Path("/dev/shm") / f"ferry-bench-first-touch-{os.getpid()}"
    try:
        t0 = time.monotonic()
        subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size_mib}"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return size_mib * 2**20 / (time.monotonic() - t0) / 1e9
    finally:
        path.unlink(missing_ok=True)


def migrate_once(opts, row, run):
    vmm, ram, wl, mode = row
    d = Path(opts.tmp) / f"{vmm}-{ram}-{wl}-{mode}-run{run}"
    d.mkdir()
    res = {"vmm": vmm, "ram": ram, "workload": wl, "mode": mode, "run": run, "ok": False,
           "downtime_limit": opts.downtime_limit}
    workload = f"{workload_options(opts, ram, wl)} hb={opts.hb}"
    procs, qmps = {}, {}
    phase = "start"
    deadline = time.monotonic() + opts.timeout
    qmp_log = open(d / "qmp.log", "w")
    try:
        for role in ("target", "source"):
            argv = vmm_argv(opts, vmm, ram, workload, d, role)
            opts.commands.setdefault(f"{vmm} {role}", shlex.join(argv))
            with open(d / f"{role}.log", "wb") as out:
                procs[role] = spawn(argv, stdout=out, stderr=subprocess.STDOUT)
            try:
                qmps[role] = Qmp(d / f"{role}.qmp", procs[role], deadline, qmp_log)
            except BenchError as e:
                raise BenchError(f"{role} {e}{stderr_tail(d / f'{role}.log')}")
        res["foreign_vmms"] = foreign_vmms()
        phase = "boot"
        src_serial = Serial(d / "source.serial")
        m = re.search(r"\bmem=(\d+)", workload)
        want = int(m.group(1)) if m else 16                 # the firmware's default
        first = src_serial.wait(lambda h: any(x["touched_mib"] >= want for x in h), deadline, procs["source"],
                                f"a source heartbeat with touched_mib >= {want}")
        src_serial.wait(lambda h: h[-1]["hb"] > first["hb"], deadline, procs["source"], "one more heartbeat")
        phase = "settle"
        res["settle_s"] = round(wait_settled([procs["source"].pid, procs["target"].pid]), 2)
        # Memory the kernel freed goes back to the hypervisor below within seconds here (virtio
        # free page reporting), and touching it again is ~5x slower than memory just freed: wait
        # the same for every VMM, so that every target writes into cold memory, as on a host whose
        # free memory has been idle (a fast-starting VMM would otherwise inherit warm memory).
        time.sleep(opts.cold_wait)

        phase = "setup"
        caps = [{"capability": "events", "state": True}, {"capability": "multifd", "state": mode == "multifd"}]
        for role in ("source", "target"):
            qmps[role].cmd("migrate-set-capabilities", capabilities=caps)
            if mode == "multifd":
                qmps[role].cmd("migrate-set-parameters", **{"multifd-channels": opts.channels})
        qmps["source"].cmd("migrate-set-parameters", **{"max-bandwidth": HUGE_BANDWIDTH,
                                                        "downtime-limit": opts.downtime_limit})
        for attempt in range(5):
            port = free_port()
            try:
                qmps["target"].cmd("migrate-incoming", uri=f"tcp:127.0.0.1:{port}")
                break
            except BenchError as e:
                if attempt == 4:
                    raise
                log(f"  migrate-incoming on port {port} failed ({e}); another port")

        phase = "migrate"
        t0 = time.monotonic()
        qmps["source"].cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
        while True:
            info = qmps["source"].cmd("query-migrate")
            if info.get("status") in DONE:
                break
            if time.monotonic() > deadline:
                try:
                    qmps["source"].cmd("migrate_cancel")
                except BenchError:
                    pass
                raise BenchError(f"not finished after --timeout {opts.timeout:g} s (status {info.get('status')}, "
                                 f"{info.get('ram', {}).get('dirty-sync-count')} passes)")
            time.sleep(0.02)
        res["completed_ms"] = (time.monotonic() - t0) * 1000
        if info["status"] != "completed":
            res["query_migrate"] = info
            raise BenchError(f"status {info['status']}: {info.get('error-desc', '')}{stderr_tail(d / 'source.log')}")

        # The source's 'completed' does not mean the target runs: it may still be loading.
        phase = "target resume"
        resume_deadline = time.monotonic() + 10
        while (status := qmps["target"].cmd("query-status").get("status")) != "running":
            if status in ("internal-error", "shutdown", "guest-panicked") or time.monotonic() > resume_deadline:
                raise BenchError(f"target run state is {status!r}, not 'running'{stderr_tail(d / 'target.log')}")
            time.sleep(0.005)
        res["wall_ms"] = (time.monotonic() - t0) * 1000

        # QEMU sets 'completed' before it fills in total-time and downtime (until then 0): ask again.
        retry_until = time.monotonic() + 2
        while not info.get("total-time") and time.monotonic() < retry_until:
            time.sleep(0.01)
            info = qmps["source"].cmd("query-migrate")
        res["query_migrate"] = info
        ram_info = info.get("ram", {})
        res.update(total_ms=info.get("total-time"), downtime_ms=info.get("downtime"),
                   setup_ms=info.get("setup-time"), transferred=ram_info.get("transferred"),
                   passes=ram_info.get("dirty-sync-count"), mbps=ram_info.get("mbps"))
        if not res["total_ms"] or res["downtime_ms"] is None or res["transferred"] is None:
            raise BenchError(f"query-migrate lacks total-time, downtime or ram.transferred: {info}")
        res["throughput_mb_s"] = res["transferred"] / 1e6 / (res["total_ms"] / 1000)

        phase = "verify"
        src_serial.poll()
        last = src_serial.hbs[-1]["hb"]
        tgt_serial = Serial(d / "target.serial")
        hb = tgt_serial.wait(lambda h: bool(h) and h[-1]["hb"] > last, time.monotonic() + 5 + 3 * opts.hb / 1000,
                             procs["target"], f"a target heartbeat after the source's hb={last}")
        if hb["errors"] or any(h["errors"] for h in tgt_serial.hbs + src_serial.hbs):
            raise BenchError(f"guest counted page errors: {hb}")
        # Guest pause as both VMMs' events show it (host wall clock): source STOP -> target RESUME.
        for q in qmps.values():
            q.cmd("query-status")                          # collects events sent after the last reply
        stops = [e for e in qmps["source"].events if e["event"] == "STOP"]
        resumes = [e for e in qmps["target"].events if e["event"] == "RESUME"]
        if stops and resumes:
            res["pause_ms"] = (event_time(resumes[0]) - event_time(stops[-1])) * 1000
        res.update(source_last_hb=last, target_hb=hb["hb"], ok=True)
    except (BenchError, OSError, ValueError) as e:
        res["error"] = f"{vmm}: migrate failed ({phase}): {e}"
    except Exception as e:                                      # a bug here must not end the run
        res["error"] = f"{vmm}: migrate failed ({phase}): {type(e).__name__}: {e}"
    finally:
        for role, q in qmps.items():
            try:
                q.cmd("quit")
            except (BenchError, OSError, ValueError):
                pass
            q.close()
        for p in procs.values():
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
            stop(p)
        qmp_log.close()
        if opts.keep_logs:
            shutil.copytree(d, Path(opts.keep_logs) / d.name, dirs_exist_ok=True)
    return res


# ------------------------------------------------------------------------------------------
# Loopback TCP ceiling
# ------------------------------------------------------------------------------------------

RECEIVER = r"""
import os, socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); buf = bytearray(4 << 20); view = memoryview(buf); n = 0
while True:
    k = c.recv_into(view)
    if not k:
        break
    n += k
c.sendall(b"x"); t = os.times()
print(n, t.user, t.system, flush=True)
"""


def loopback_ceiling(streams, total_bytes, timeout):
    """`streams` Python sender threads (4 MiB sendall) to as many receiver processes (recv_into a
    preallocated 4 MiB buffer), total_bytes in all: wall time from the first send to the last
    receiver's acknowledgement, and user/system CPU of both sides (high user time = Python costs)."""
    procs, results = [], []
    try:
        for _ in range(streams):
            p = spawn([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
            procs.append((p, int(p.stdout.readline())))
        chunk = bytes(4 << 20)
        per = total_bytes // streams // len(chunk)
        socks = [socket.create_connection(("127.0.0.1", port), timeout=timeout) for _, port in procs]

        def send(s):
            r0 = resource.getrusage(resource.RUSAGE_THREAD)
            for _ in range(per):
                s.sendall(chunk)
            s.shutdown(socket.SHUT_WR)
            s.recv(1)
            r1 = resource.getrusage(resource.RUSAGE_THREAD)
            results.append((r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime))
        threads = [threading.Thread(target=send, args=(s,)) for s in socks]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout)
        wall = time.monotonic() - t0
        if len(results) != streams:
            raise BenchError("loopback ceiling: a sender did not finish")
        recv = [list(map(float, p.stdout.readline().split())) for p, _ in procs]
        for s in socks:
            s.close()
        got = sum(int(r[0]) for r in recv)
        return {"streams": streams, "bytes": got, "seconds": wall, "gb_s": got / wall / 1e9,
                "sender_user_s": sum(r[0] for r in results), "sender_sys_s": sum(r[1] for r in results),
                "receiver_user_s": sum(r[1] for r in recv), "receiver_sys_s": sum(r[2] for r in recv)}
    finally:
        for p, _ in procs:
            stop(p)


# ------------------------------------------------------------------------------------------
# Summary and report
# ------------------------------------------------------------------------------------------

FIELDS = ("total_ms", "downtime_ms", "pause_ms", "setup_ms", "wall_ms", "completed_ms", "transferred", "throughput_mb_s", "passes")


def summarize(results, rows, ceilings, channels):
    out = []
    for row in rows:
        rs = [r for r in results if (r["vmm"], r["ram"], r["workload"], r["mode"]) == row]
        ok = [r for r in rs if r["ok"]]
        s = {"vmm": row[0], "ram": row[1], "workload": row[2], "mode": row[3], "runs": len(rs), "ok": len(ok),
             "errors": [r["error"] for r in rs if not r["ok"]],
             "downtime_over_limit": sum(1 for r in ok if r["downtime_ms"] > r["downtime_limit"])}
        for f in FIELDS:
            vals = [r[f] for r in ok if r.get(f) is not None]
            if vals:
                s[f] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}
        out.append(s)
    # Throughput on the wire against the loopback ceiling with as many streams as the row uses.
    ceiling = {c["streams"]: c["gb_s"] * 1000 for c in ceilings}
    for s in out:
        streams = channels if s["mode"] == "multifd" else 1
        if "throughput_mb_s" in s and ceiling.get(streams):
            s["wire_vs_ceiling"] = s["throughput_mb_s"]["median"] / ceiling[streams]
    # Ratios against QEMU's best: the lower median of microvm/pc, single/multifd, same RAM+workload.
    for s in out:
        for f in ("total_ms", "downtime_ms", "pause_ms"):
            best = [q[f]["median"] for q in out if q["vmm"].startswith("qemu") and f in q
                    and (q["ram"], q["workload"]) == (s["ram"], s["workload"])]
            if best and f in s and min(best) > 0:
                s[f + "_vs_qemu_best"] = s[f]["median"] / min(best)
    return out


def print_report(opts, summary, ceilings):
    def cell(s, f, fmt, scale=1.0):
        v = s.get(f)
        if not v:
            return "-"
        if opts.runs == 1 or v["min"] == v["max"]:
            return fmt.format(v["median"] / scale)
        return f"{fmt.format(v['median'] / scale)} ({fmt.format(v['min'] / scale)}-{fmt.format(v['max'] / scale)})"

    def ratio(s, f):
        return f"{s[f]:.2f}" if s.get(f) is not None else "-"
    print()
    print(f"Live migration over loopback TCP, -smp {opts.smp}, {opts.runs} interleaved run(s) per row: "
          f"median (min-max); multifd = {opts.channels} channels; downtime-limit {opts.downtime_limit} ms")
    print(f"workloads: idle = '{opts.workloads['idle']}', busy = '{opts.workloads['busy']}' (hb={opts.hb} ms)"
          + (f"; the {opts.scale[0]} rows with mem={opts.scale[1]}" if opts.scale else ""))
    if opts.first_touch_gb_s:
        print(f"first touch of shared memory (dd if=/dev/zero of=/dev/shm/x bs=1M count=1024): "
              f"{opts.first_touch_gb_s:.2f} GB/s")
    cols = [("VMM", 12), ("RAM", 3), ("load", 4), ("mode", 7), ("ok", 3), ("total ms", 16), ("downtime ms", 13),
            ("pause ms", 13), ("setup ms", 9), ("wall ms", 16), ("MB sent", 14), ("MB/s", 14), ("passes", 7),
            ("wire/ceil", 9), ("total/qb", 8), ("down/qb", 7), ("pause/qb", 8)]
    print("  ".join(f"{n:<{w}}" if i < 4 else f"{n:>{w}}" for i, (n, w) in enumerate(cols)))
    print("-" * (sum(w for _, w in cols) + 2 * (len(cols) - 1)))
    for s in summary:
        vals = [s["vmm"], s["ram"], s["workload"], s["mode"], f"{s['ok']}/{s['runs']}",
                cell(s, "total_ms", "{:.0f}"), cell(s, "downtime_ms", "{:.0f}"), cell(s, "pause_ms", "{:.0f}"),
                cell(s, "setup_ms", "{:.0f}"),
                cell(s, "wall_ms", "{:.0f}"), cell(s, "transferred", "{:.0f}", 1e6),
                cell(s, "throughput_mb_s", "{:.0f}"), cell(s, "passes", "{:.0f}"),
                ratio(s, "wire_vs_ceiling"), ratio(s, "total_ms_vs_qemu_best"), ratio(s, "downtime_ms_vs_qemu_best"),
                ratio(s, "pause_ms_vs_qemu_best")]
        print("  ".join(f"{v:<{w}}" if i < 4 else f"{v:>{w}}" for i, (v, (_, w)) in enumerate(zip(vals, cols))))
    print()
    print("total/downtime/setup: the source's query-migrate (each VMM's own definition); pause: the source's STOP "
          "event to the target's RESUME event (event timestamps, host clock; the same method for every VMM); wall: from sending 'migrate' until the target's "
          "query-status says 'running' (client clock); MB = 10^6 bytes (ram.transferred); MB/s = transferred / total-time; passes = "
          "dirty-sync-count; wire/ceil = MB/s over the loopback ceiling with as many streams (1, or the multifd channels); x/qb = median over the best QEMU median (microvm or pc, single or multifd) "
          "for the same RAM and workload")
    for c in ceilings:
        print(f"loopback TCP ceiling, Python, {c['streams']} stream(s), {c['bytes'] / 2**30:.0f} GiB: "
              f"{c['gb_s']:.2f} GB/s ({c['gb_s'] * 1000:.0f} MB/s); CPU s sender {c['sender_user_s']:.2f} user "
              f"{c['sender_sys_s']:.2f} sys, receiver {c['receiver_user_s']:.2f} user {c['receiver_sys_s']:.2f} sys")
    for s in summary:
        if s["downtime_over_limit"]:
            print(f"downtime above the {opts.downtime_limit} ms limit: {s['vmm']} {s['ram']} {s['workload']} "
                  f"{s['mode']} in {s['downtime_over_limit']} of {s['ok']} runs")
    for s in summary:
        for e in dict.fromkeys(s["errors"]):
            print(f"FAILED ({s['errors'].count(e)}x): {s['ram']} {s['workload']} {s['mode']}: {e}")


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------

def parse_list(value, allowed, what):
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if allowed is not None and v not in allowed]
    if not items or bad:
        raise argparse.ArgumentTypeError(f"bad {what}: {bad or value!r} (choose from {', '.join(allowed)})")
    return items


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vmm", type=lambda v: parse_list(v, VMMS, "--vmm"), default=list(VMMS),
                    help="comma-separated from qemu-microvm,qemu-pc,ferry (default all)")
    ap.add_argument("--ram", type=lambda v: parse_list(v, None, "--ram"), default=["1G", "4G"],
                    help="guest RAM sizes, QEMU syntax (default 1G,4G)")
    ap.add_argument("--workload", type=lambda v: parse_list(v, ("idle", "busy"), "--workload"),
                    default=["idle", "busy"], help="idle,busy (default both)")
    ap.add_argument("--mode", type=lambda v: parse_list(v, ("single", "multifd"), "--mode"),
                    default=["single", "multifd"], help="single,multifd (default both)")
    ap.add_argument("--runs", type=int, default=3, help="migrations per row, interleaved (default 3)")
    ap.add_argument("--channels", type=int, default=2, help="multifd-channels (default 2)")
    ap.add_argument("--smp", type=int, default=2, help="vCPUs (default 2; the guest halts when idle)")
    ap.add_argument("--scale", default="8G:6144", metavar="RAM:MIB",
                    help="also migrate a RAM-sized guest with MIB MiB touched, idle and busy ('none' to skip;"
                         " default 8G:6144)")
    ap.add_argument("--idle", default="mem=512 rate=1",
                    help="idle guest options (default 'mem=512 rate=1'; rate=0 would mean unpaced)")
    ap.add_argument("--busy", default="mem=512 rate=200", help="busy guest options (default 'mem=512 rate=200')")
    ap.add_argument("--hb", type=int, default=500, help="guest heartbeat period, ms (default 500)")
    ap.add_argument("--downtime-limit", type=int, default=300, help="ms, on the source (default 300)")
    ap.add_argument("--timeout", type=float, default=120, help="limit per migration row run, s (default 120)")
    ap.add_argument("--ceiling-gib", type=float, default=2, help="GiB for the loopback ceiling (0: skip; default 2)")
    ap.add_argument("--cold-wait", type=float, default=5, metavar="S",
                    help="seconds every run waits before 'migrate', so that freed memory is cold for every VMM"
                         " (default 5; 0 to skip)")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="before each migration wait up to S s until no other QEMU/Java process runs")
    ap.add_argument("--snapshot", action="store_true",
                    help="run Ferry from a private copy of vmm/target (immune to rebuilds during the run)")
    ap.add_argument("--keep-logs", metavar="DIR", help="copy serial, VMM and QMP logs of every run to DIR")
    ap.add_argument("--json", metavar="FILE", help="write the machine-readable result to FILE")
    opts = ap.parse_args()
    if min(opts.runs, opts.channels, opts.smp, opts.hb) < 1:
        ap.error("--runs, --channels, --smp and --hb must be at least 1")
    opts.workloads = {"idle": opts.idle, "busy": opts.busy}
    if opts.scale == "none":
        opts.scale = None
    else:
        m = re.fullmatch(r"(\d+[MG]):(\d+)", opts.scale)
        if not m:
            ap.error("--scale takes RAM:MIB, e.g. 8G:6144, or none")
        opts.scale = (m.group(1), int(m.group(2)))
    opts.first_touch_gb_s = None

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)

    opts.tmp = tempfile.mkdtemp(prefix="ferry-migration-bench-")
    opts.commands, results, ceilings, warnings = {}, [], [], []
    rc = 0
    started = time.monotonic()
    try:
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            raise BenchError("/dev/kvm is not usable")
        if any(v.startswith("qemu") for v in opts.vmm) and shutil.which(QEMU) is None:
            raise BenchError(f"{QEMU} not found (apt-get install qemu-system-x86)")
        if not ELF.exists():
            raise BenchError(f"the firmware ELF {ELF} is missing; build with ./ferry --build")
        opts.elf = Path(opts.tmp) / "ferry-stub.elf"          # a copy: a rebuild cannot change it mid-run
        shutil.copy2(ELF, opts.elf)
        opts.target_dir = None
        if "ferry" in opts.vmm:
            if not JAR.exists():
                warnings.append(f"{JAR} is missing: the Ferry rows will fail")
            elif opts.snapshot:
                opts.target_dir = make_snapshot(opts.tmp, opts.timeout, "migration.py")
        stamp = jar_stamp(opts.target_dir or TARGET)
        if opts.keep_logs:
            Path(opts.keep_logs).mkdir(parents=True, exist_ok=True)
        others = foreign_vmms()
        if others:
            warnings.append(f"other VMM/Java processes are running (pids {others}): they compete for CPU")
        log(f"migration.py: {os.cpu_count()} CPUs, Linux {platform.release()}, "
            f"{subprocess.run([QEMU, '--version'], stdout=subprocess.PIPE, text=True).stdout.splitlines()[0]}")

        opts.first_touch_gb_s = first_touch_gb_s()
        log(f"migration.py: first touch of shared memory (dd to /dev/shm): {opts.first_touch_gb_s:.2f} GB/s")
        sizes = [opts.ceiling_gib] if opts.ceiling_gib > 0 else []
        for streams in ([1, opts.channels] if opts.channels > 1 else [1]) if sizes else []:
            c = loopback_ceiling(streams, int(opts.ceiling_gib * 2**30), opts.timeout)
            ceilings.append(c)
            log(f"migration.py: loopback ceiling, {streams} stream(s): {c['gb_s']:.2f} GB/s")

        sizes_ram = opts.ram + ([opts.scale[0]] if opts.scale and opts.scale[0] not in opts.ram else [])
        rows = [(vmm, ram, wl, mode) for ram in sizes_ram for wl in opts.workload for mode in opts.mode
                for vmm in opts.vmm]
        for run in range(1, opts.runs + 1):
            for row in (rows if run % 2 else rows[::-1]):
                wait_for_foreign_vmms(opts.wait_quiet)
                log(f"migration.py: run {run}/{opts.runs}: {' '.join(row)} ...")
                r = migrate_once(opts, row, run)
                results.append(r)
                if r["ok"]:
                    log(f"  total {r['total_ms']} ms, downtime {r['downtime_ms']} ms, setup {r['setup_ms']} ms, "
                        f"{r['transferred'] / 1e6:.0f} MB, {r['throughput_mb_s']:.0f} MB/s, {r['passes']} passes; "
                        f"target hb={r['target_hb']} after source hb={r['source_last_hb']}")
                else:
                    log(f"  {r['error']}")
                if r.get("foreign_vmms"):
                    warnings.append(f"run {run} {' '.join(row)}: other VMM/Java processes were running")
        if "ferry" in opts.vmm and jar_stamp(opts.target_dir or TARGET) != stamp:
            warnings.append("vmm/target changed during the run: Ferry rows may mix builds (use --snapshot)")
        summary = summarize(results, rows, ceilings, opts.channels)
        print_report(opts, summary, ceilings)
        elapsed = time.monotonic() - started
        log(f"migration.py: {len(results)} migrations in {elapsed:.0f} s; commands (first run of each):")
        for k, c in opts.commands.items():
            log(f"  {k}: {c}")
        for w in dict.fromkeys(warnings):
            log(f"migration.py: warning: {w}")
        if any(not r["ok"] for r in results):
            rc = 1
        if opts.json:
            report = {"benchmark": "migration", "date": datetime.datetime.now().astimezone().isoformat(),
                      "host": {"cpus": os.cpu_count(), "kernel": platform.release(),
                               "first_touch_gb_s": opts.first_touch_gb_s},
                      "config": {k: getattr(opts, k) for k in ("vmm", "ram", "workload", "mode", "runs", "channels",
                                                                "smp", "workloads", "scale", "hb", "downtime_limit",
                                                                "cold_wait")},
                      "commit": subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                                               stdout=subprocess.PIPE, text=True).stdout.strip(),
                      "snapshot": opts.target_dir is not None, "elapsed_s": elapsed, "commands": opts.commands,
                      "loopback_ceiling": ceilings, "summary": summary, "runs": results,
                      "warnings": list(dict.fromkeys(warnings))}
            Path(opts.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
    except BenchError as e:
        log(f"migration.py: {e}")
        rc = 2
    except KeyboardInterrupt as e:
        log(f"migration.py: interrupted ({e})")
        rc = 130
    finally:
        for proc in list(STARTED.values()):
            stop(proc)
        left = sorted(started_left())
        if left:
            log(f"migration.py: ERROR: processes left behind: {left}")
            rc = rc or 3
        else:
            log(f"migration.py: leftover check (by PID and session): none of the {len(STARTED)} processes is left")
        shutil.rmtree(opts.tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
