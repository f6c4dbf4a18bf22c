#!/usr/bin/env python3
"""QMP round-trip latency: Ferry against QEMU on the same machine, in one run.

For each VMM the script starts an idle guest (the same firmware ELF, -append "mode=idle") with a
QMP monitor on a unix socket (--transport tcp: 127.0.0.1), connects ONE raw socket, reads the
greeting, negotiates with qmp_capabilities and then measures on that connection:

  cold        the first --cold (1000) round trips after negotiation: what an operator's first
              commands see (for Ferry a fresh JVM: interpreter, then JIT compilation)
  warm-up     at least --warmup (2000) round trips, the cold ones included; for Ferry then more,
              in windows of --jit-window (2000), until its JIT compiler threads used under
              --jit-quiet (2%) of a window's time (at most --warmup-max round trips)
  warm        --count (20000) sequential round trips
  pipelined   batches of --batch (64) commands sent in one write, then their replies read

A round trip is: send '{"execute": "query-status", "id": N}\\n', read until the reply line
with that id; each is timed with time.perf_counter_ns (CLOCK_MONOTONIC). The whole measurement,
with a fresh VMM process each time, is repeated --runs (3) times, interleaved Ferry/QEMU, and the
table shows the median of each figure over the runs, with the ratios Ferry/QEMU.

Around the warm window the script also reads /proc for the VMM's threads (CPU time, context
switches, run-queue wait from schedstat; vCPU threads are recognised by their guest time) and,
for Ferry, the JVM's own jvmstat counters (hsperfdata: GCs, safepoints, allocation), so a tail
can be traced to the JIT, GC or thread hand-offs without changing Ferry's command line.
--diagnose adds -Xlog:gc,safepoint to Ferry and matches each slow round trip against the pauses.

Standard library only. Every process started is killed by PID (SIGTERM, then SIGKILL) in a
finally block, and a pgrep check at the end confirms that none is left. See bench/README.md.
"""

import argparse
import hashlib
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from benchlib import (BenchError, ELF, EMBEDDED_ELF, JAR, JSA, QEMU, STARTED, TARGET, cpu_busy,
                      foreign_vmms, jar_stamp, launcher_java_command, log, make_snapshot,
                      spawn, started_left, stop, wait_for_foreign_vmms)


# ------------------------------------------------------------------------------------------
# The launcher's JVM command line (read from ./ferry, so the flags cannot drift apart)
# ------------------------------------------------------------------------------------------


def embedded_elf_sha(target_dir):
    for p in [target_dir / "ferry.jar", *sorted((target_dir / "lib").glob("*.jar"))]:
        with zipfile.ZipFile(p) as z:
            if EMBEDDED_ELF in z.namelist():
                return hashlib.sha256(z.read(EMBEDDED_ELF)).hexdigest()
    return None


# ------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------


def leftover_check(tmp):
    """pgrep: nothing we started (by PID, by session, or naming our temp dir) may be left."""
    left = started_left()
    for pattern in ("ferry.jar", "qemu-system"):
        r = subprocess.run(["pgrep", "-f", pattern], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for pid in map(int, r.stdout.split()):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if tmp and tmp in cmd:
                left.add(pid)
    return sorted(left)


# ------------------------------------------------------------------------------------------
# Per-thread and JVM counters
# ------------------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")
VCPU_RE = re.compile(r"^(vcpu-\d+|CPU \d+/KVM)$")


def thread_sample(pid):
    """tid -> dict(name, cpu_ns, vcs, nvcs, run_ns, wait_ns) for every thread of pid."""
    out = {}
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (t / "stat").read_text()
            status = (t / "status").read_text()
            name = (t / "comm").read_text().rstrip("\n")
            sched = (t / "schedstat").read_text().split() if (t / "schedstat").exists() else ["0", "0", "0"]
        except OSError:
            continue
        f = stat.rsplit(")", 1)[1].split()
        vcs = nvcs = 0
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                vcs = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                nvcs = int(line.split()[1])
        # guest_time (field 43): only a vCPU thread (in KVM_RUN) has any. QEMU names its threads
        # only with -name debug-threads=on, so the name alone cannot tell.
        guest = len(f) > 40 and int(f[40]) > 0
        out[int(t.name)] = {"name": name, "cpu_ns": (int(f[11]) + int(f[12])) * 1_000_000_000 // CLK_TCK,
                            "vcpu": guest or bool(VCPU_RE.match(name)),
                            "vcs": vcs, "nvcs": nvcs, "run_ns": int(sched[0]), "wait_ns": int(sched[1])}
    return out


def thread_delta(before, after, n):
    """Per round trip, grouped by thread name with digits folded (qmp-unix-7-read -> qmp-unix-N-read)."""
    groups = {}
    for tid, a in after.items():
        b = before.get(tid, {"cpu_ns": 0, "vcs": 0, "nvcs": 0, "run_ns": 0, "wait_ns": 0})
        key = re.sub(r"(?<=-)\d+|\b\d+\b", "N", a["name"]) + (" [vCPU]" if a["vcpu"] else "")
        g = groups.setdefault(key, {"threads": 0, "vcpu": a["vcpu"],
                                    "run_us": 0.0, "wait_us": 0.0, "vcs": 0.0, "nvcs": 0.0})
        g["threads"] += 1
        g["run_us"] += (a["run_ns"] - b["run_ns"]) / 1000 / n
        g["wait_us"] += (a["wait_ns"] - b["wait_ns"]) / 1000 / n
        g["vcs"] += (a["vcs"] - b["vcs"]) / n
        g["nvcs"] += (a["nvcs"] - b["nvcs"]) / n
    busy = {k: v for k, v in groups.items() if v["vcs"] + v["nvcs"] >= 0.001 or v["run_us"] >= 0.05}
    io = [v for v in busy.values() if not v["vcpu"]]
    return {
        "threads": busy,
        # Everything but the vCPU thread(s), which spin in the idle guest regardless of QMP.
        "server_cpu_us": sum(v["run_us"] for v in io),
        "server_runq_wait_us": sum(v["wait_us"] for v in io),
        "server_switches": sum(v["vcs"] + v["nvcs"] for v in io),
        "jit_cpu_us": (sum(v["run_us"] for k, v in groups.items() if "CompilerThre" in k)
                       if any("CompilerThre" in k for k in groups) else None),
    }


def hsperf(pid):
    """The JVM's jvmstat counters (/tmp/hsperfdata_USER/PID, as jstat reads them): name -> int."""
    try:
        import pwd
        user = pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, ImportError):
        return {}
    path = Path(tempfile.gettempdir()) / f"hsperfdata_{user}" / str(pid)
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    if len(data) < 32 or struct.unpack_from(">I", data, 0)[0] != 0xCAFEC0C0:
        return {}
    bo = "<" if data[4] == 1 else ">"
    entry_offset, num_entries = struct.unpack_from(bo + "ii", data, 24)
    out = {}
    off = entry_offset
    for _ in range(num_entries):
        if off + 20 > len(data):
            break
        length, name_off, vec_len, dtype, _flags, _units, _var, data_off = struct.unpack_from(bo + "iiibbbbi", data, off)
        if length <= 0:
            break
        end = data.index(b"\0", off + name_off)
        name = data[off + name_off:end].decode(errors="replace")
        if dtype == ord("J") and vec_len == 0:
            out[name] = struct.unpack_from(bo + "q", data, off + data_off)[0]
        off += length
    return out


def jvm_delta(before, after, n):
    if not before or not after:
        return None
    freq = after.get("sun.os.hrt.frequency", 1_000_000_000)

    def d(key):
        return after.get(key, 0) - before.get(key, 0)

    def ms(key):
        return d(key) * 1000 / freq
    return {
        "gcs": d("sun.gc.collector.0.invocations") + d("sun.gc.collector.1.invocations"),
        "gc_ms": ms("sun.gc.collector.0.time") + ms("sun.gc.collector.1.time"),
        "young_gcs": d("sun.gc.collector.0.invocations"),
        "young_gc_ms": ms("sun.gc.collector.0.time"),
        "full_gcs": d("sun.gc.collector.1.invocations"),
        "full_gc_ms": ms("sun.gc.collector.1.time"),
        "safepoints": d("sun.rt.safepoints"),
        "safepoint_ms": ms("sun.rt.safepointTime"),
        "safepoint_sync_ms": ms("sun.rt.safepointSyncTime"),
        "jit_ms": ms("sun.ci.totalTime"),
        # Serial GC collects when eden is full, so allocation ~ GCs x eden + change in eden use.
        "alloc_bytes_per_rt": (d("sun.gc.collector.0.invocations") * after.get("sun.gc.generation.0.space.0.capacity", 0)
                               + d("sun.gc.generation.0.space.0.used")) / n,
        "eden_capacity_kib": after.get("sun.gc.generation.0.space.0.capacity", 0) // 1024,
    }


# ------------------------------------------------------------------------------------------
# QMP client
# ------------------------------------------------------------------------------------------

class Qmp:
    """One raw QMP connection; reads whole lines, skips events, matches replies by id."""

    def __init__(self, address, deadline, proc, settle):
        """address: a unix socket path, or (host, port) for TCP. Connects as soon as the monitor
        listens, waits `settle` seconds (the VMM's start-up work finishes), then negotiates."""
        self.sock = None
        self.buf = b""
        self.events = 0
        tcp = isinstance(address, tuple)
        while True:
            if proc.poll() is not None:
                raise BenchError(f"exited with status {proc.returncode} before its QMP monitor accepted")
            s = socket.socket(socket.AF_INET if tcp else socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(address if tcp else str(address))
                self.sock = s
                break
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                if time.monotonic() >= deadline:
                    raise BenchError(f"no QMP monitor at {address} in time")
                time.sleep(0.005)
        if tcp:
            # Our own writes are whole commands; no Nagle delay on the client side.
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connected_at = time.monotonic()
        time.sleep(settle)
        self.sock.settimeout(max(1.0, deadline - time.monotonic()))
        greeting = self.line()
        if "QMP" not in greeting:
            raise BenchError(f"unexpected greeting: {greeting}")
        self.greeting = greeting
        self.sock.sendall(b'{"execute": "qmp_capabilities"}\n')
        r = self.line()
        if r.get("return") != {}:
            raise BenchError(f"qmp_capabilities: {r}")

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise BenchError("the VMM closed the QMP connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def sequential(self, first_id, n, lat, stamps=None):
        """n round trips; appends each latency (ns) to lat and its start (ns) to stamps."""
        sock, pc = self.sock, time.perf_counter_ns
        send, recv, loads = sock.sendall, sock.recv, json.loads
        buf = self.buf
        for i in range(first_id, first_id + n):
            msg = b'{"execute": "query-status", "id": %d}\n' % i
            t0 = pc()
            send(msg)
            while True:
                data = recv(65536)
                t1 = pc()
                if not data:
                    raise BenchError("the VMM closed the QMP connection")
                buf += data
                done = False
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    r = loads(line)
                    if "id" not in r:
                        self.events += 1
                        continue
                    if r["id"] != i or "return" not in r:
                        raise BenchError(f"round trip {i}: unexpected reply {r}")
                    done = True
                if done:
                    break
            lat.append(t1 - t0)
            if stamps is not None:
                stamps.append(t0)
        self.buf = buf

    def pipelined(self, first_id, batches, batch, lat):
        """batches x (send `batch` commands in one write, read their replies); lat per batch."""
        sock, pc = self.sock, time.perf_counter_ns
        recv, loads = sock.recv, json.loads
        buf = self.buf
        i = first_id
        for _ in range(batches):
            ids = range(i, i + batch)
            msg = b"".join(b'{"execute": "query-status", "id": %d}\n' % k for k in ids)
            expect = i
            last = i + batch - 1
            t0 = pc()
            sock.sendall(msg)
            while expect <= last:
                data = recv(65536)
                if not data:
                    raise BenchError("the VMM closed the QMP connection")
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    r = loads(line)
                    if "id" not in r:
                        self.events += 1
                        continue
                    if r["id"] != expect or "return" not in r:
                        raise BenchError(f"pipelined: expected reply {expect}, got {r}")
                    expect += 1
            lat.append(pc() - t0)
            i += batch
        self.buf = buf
        return i

    def close(self):
        if self.sock:
            self.sock.close()


# ------------------------------------------------------------------------------------------
# Statistics
# ------------------------------------------------------------------------------------------

def pct(sorted_ns, p):
    """Nearest-rank percentile, in µs."""
    n = len(sorted_ns)
    return sorted_ns[min(n - 1, max(0, math.ceil(p / 100 * n) - 1))] / 1000


def summarize(lat_ns, elapsed_ns):
    s = sorted(lat_ns)
    return {
        "n": len(s),
        "rt_per_s": len(s) / (elapsed_ns / 1e9),
        "mean_us": sum(s) / len(s) / 1000,
        "p50_us": pct(s, 50),
        "p99_us": pct(s, 99),
        "p99_9_us": pct(s, 99.9),
        "max_us": s[-1] / 1000,
        "over_1ms": sum(1 for x in s if x > 1_000_000),
    }


GC_RE = re.compile(r"^\[(\d+)ns\].*GC\(\d+\) Pause .* (\d+(?:\.\d+)?)ms$")
SP_RE = re.compile(r"^\[(\d+)ns\].*Safepoint \"([^\"]+)\".*Total: (\d+) ns")


def jvm_log_pauses(path):
    """[(start_ns, end_ns, kind)] from -Xlog:gc,safepoint:...:timenanos (CLOCK_MONOTONIC)."""
    out = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        m = GC_RE.match(line)
        if m:
            end = int(m.group(1))
            out.append((end - int(float(m.group(2)) * 1e6), end, "gc"))
            continue
        m = SP_RE.match(line)
        if m:
            end = int(m.group(1))
            out.append((end - int(m.group(3)), end, "safepoint:" + m.group(2)))
    return sorted(out)


def correlate(stamps, lat, pauses, threshold_ns):
    """How many round trips slower than threshold overlapped a GC pause or a safepoint."""
    slow = [(t, t + d) for t, d in zip(stamps, lat) if d >= threshold_ns]
    hit_gc = hit_sp = 0
    for a, b in slow:
        kinds = {k for (s, e, k) in pauses if s < b and e > a}
        if any(k == "gc" for k in kinds):
            hit_gc += 1
        elif kinds:
            hit_sp += 1
    in_window = [(s, e, k) for (s, e, k) in pauses if stamps and stamps[0] <= e <= stamps[-1] + lat[-1]]
    return {"slow": len(slow), "threshold_us": threshold_ns / 1000, "overlap_gc": hit_gc,
            "overlap_safepoint_only": hit_sp,
            "gc_pauses_in_window": sum(1 for p in in_window if p[2] == "gc"),
            "gc_pause_ms_in_window": sum(e - s for s, e, k in in_window if k == "gc") / 1e6,
            "safepoints_in_window": sum(1 for p in in_window if p[2] != "gc"),
            "safepoint_ms_in_window": sum(e - s for s, e, k in in_window if k != "gc") / 1e6}


# ------------------------------------------------------------------------------------------
# One measurement: start a VMM, measure on one connection, stop it
# ------------------------------------------------------------------------------------------

def monitor_option(address):
    if isinstance(address, tuple):
        return f"tcp:{address[0]}:{address[1]},server=on,wait=off"
    return f"unix:{address},server=on,wait=off"


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vmm_argv(kind, opts, address, run_tag):
    if kind == "ferry":
        argv = list(opts.ferry_argv)
        java, rest = argv[0], argv[1:]
        i = rest.index("-jar")
        jvm, tail = rest[:i], rest[i:]
        extra = list(opts.jvm_flag)
        if opts.diagnose:
            extra.append(f"-Xlog:gc,safepoint:file={opts.tmp}/jvm-{run_tag}.log:timenanos")
        return [java, *jvm, *extra, *tail, *(["-S"] if opts.paused else []), "-qmp", monitor_option(address)]
    return [QEMU, "-enable-kvm", "-M", "microvm", "-cpu", "host,-arch-capabilities", "-m", opts.mem,
            "-smp", "1", "-nodefaults", "-display", "none", "-serial", "null", "-kernel", str(ELF),
            "-append", opts.append, *(["-S"] if opts.paused else []), "-qmp", monitor_option(address)]


def pin_threads(pid, allowed):
    """--pin-vcpu: vCPU threads (those with guest time) on the last allowed CPU, every other
    thread of the VMM and this client on the others. Returns how many vCPU threads were found."""
    cpus = sorted(allowed)
    vcpu_cpu, rest = {cpus[-1]}, set(cpus[:-1]) or {cpus[-1]}
    found = 0
    for tid, t in thread_sample(pid).items():
        try:
            os.sched_setaffinity(tid, vcpu_cpu if t["vcpu"] else rest)
            found += t["vcpu"]
        except OSError:
            pass
    os.sched_setaffinity(0, rest)
    return found


def jit_cpu_ns(pid):
    """CPU time of the JVM's JIT compiler threads so far (schedstat)."""
    return sum(t["run_ns"] for t in thread_sample(pid).values() if "CompilerThre" in t["name"])


def rss_kib(pid):
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "RssAnon:")):
            out[line.split(":")[0]] = int(line.split()[1])
    return out


def measure(kind, opts, run_no):
    tag = f"{kind}-{run_no}"
    if opts.transport == "tcp":
        address = ("127.0.0.1", free_tcp_port())
    else:
        address = Path(opts.tmp) / ("f.sock" if kind == "ferry" else "q.sock")
        if address.exists():
            address.unlink()
    argv = vmm_argv(kind, opts, address, tag)
    opts.commands.setdefault(kind, shlex.join(argv))
    res = {"vmm": kind, "run": run_no, "ok": False}
    others = wait_for_foreign_vmms(opts.wait_quiet) if opts.wait_quiet else foreign_vmms()
    if others:
        res["foreign_vmms"] = others
    proc = qmp = None
    out_path = Path(opts.tmp) / f"{tag}.out"
    t_start = time.monotonic()
    try:
        with open(out_path, "wb") as out:
            proc = spawn(argv, stdout=out, stderr=subprocess.STDOUT)
        res["pid"] = proc.pid
        # Connect as soon as the monitor listens (both VMMs listen before the guest runs, with
        # wait=off), then let the start-up settle so the first commands do not race it.
        qmp = Qmp(address, t_start + opts.timeout, proc, opts.settle)
        res["connected_after_s"] = qmp.connected_at - t_start
        qmp.settimeout(opts.timeout)
        if opts.pin_vcpu:
            res["pinned_vcpus"] = pin_threads(proc.pid, opts.affinity)
        res["greeting_version"] = qmp.greeting["QMP"].get("version")
        res["rss_start_kib"] = rss_kib(proc.pid)

        # Cold: the first --cold round trips, each timed.
        lat = []
        t0 = time.perf_counter_ns()
        qmp.sequential(1, opts.cold, lat)
        res["cold"] = summarize(lat, time.perf_counter_ns() - t0)
        seen = set(foreign_vmms())
        next_id = 1 + opts.cold

        # Warm-up: up to --warmup round trips in all; then, for Ferry, windows of
        # --jit-window round trips until the JIT compiler threads used less than
        # --jit-quiet of a window's wall time (at most --warmup-max round trips in all).
        lat = []
        t0 = time.perf_counter_ns()
        if opts.warmup > opts.cold:
            qmp.sequential(next_id, opts.warmup - opts.cold, lat)
            next_id += opts.warmup - opts.cold
        res["jit_quiet"] = None
        if kind == "ferry" and not opts.fixed_warmup:
            while next_id - 1 < opts.warmup_max:
                j0, w0 = jit_cpu_ns(proc.pid), time.perf_counter_ns()
                qmp.sequential(next_id, opts.jit_window, lat)
                next_id += opts.jit_window
                share = (jit_cpu_ns(proc.pid) - j0) / max(1, time.perf_counter_ns() - w0)
                if share < opts.jit_quiet:
                    res["jit_quiet"] = True
                    break
            else:
                res["jit_quiet"] = False
        res["warmup"] = summarize(lat, time.perf_counter_ns() - t0) if lat else {}
        res["warmup"]["total_rts"] = next_id - 1

        # Warm: --count sequential round trips, with /proc and JVM counters around them.
        if opts.pin_vcpu:
            pin_threads(proc.pid, opts.affinity)     # threads started since (JIT compilers, connection threads)
        lat, stamps = [], []
        th0, jv0 = thread_sample(proc.pid), (hsperf(proc.pid) if kind == "ferry" else None)
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        qmp.sequential(next_id, opts.count, lat, stamps)
        elapsed = time.perf_counter_ns() - t0
        c1 = time.process_time_ns()
        th1, jv1 = thread_sample(proc.pid), (hsperf(proc.pid) if kind == "ferry" else None)
        next_id += opts.count
        seen.update(foreign_vmms())
        res["warm"] = summarize(lat, elapsed)
        res["warm"]["client_cpu_us"] = (c1 - c0) / 1000 / opts.count
        res["threads"] = thread_delta(th0, th1, opts.count)
        if kind == "ferry":
            res["jvm"] = jvm_delta(jv0, jv1, opts.count)
        res["warm_slowest_us"] = [round(x / 1000, 1) for x in sorted(lat)[-5:]]

        # Pipelined: a few untimed batches, then --count commands in batches of --batch.
        next_id = qmp.pipelined(next_id, 5, opts.batch, [])
        batches = max(1, opts.count // opts.batch)
        blat = []
        th0 = thread_sample(proc.pid)
        t0 = time.perf_counter_ns()
        next_id = qmp.pipelined(next_id, batches, opts.batch, blat)
        elapsed = time.perf_counter_ns() - t0
        th1 = thread_sample(proc.pid)
        s = sorted(blat)
        res["pipelined"] = {"batch": opts.batch, "batches": batches,
                            "cmds_per_s": batches * opts.batch / (elapsed / 1e9),
                            "batch_p50_us": pct(s, 50), "batch_p99_us": pct(s, 99), "batch_max_us": s[-1] / 1000,
                            "server_cpu_us_per_cmd": thread_delta(th0, th1, batches * opts.batch)["server_cpu_us"]}
        res["events_seen"] = qmp.events
        res["rss_end_kib"] = rss_kib(proc.pid)
        res["mem"] = {"rss_end_mib": res["rss_end_kib"].get("VmRSS", 0) / 1024,
                      "rss_growth_mib": (res["rss_end_kib"].get("VmRSS", 0) - res["rss_start_kib"].get("VmRSS", 0)) / 1024}
        seen.update(foreign_vmms())
        if seen:
            res["foreign_vmms"] = sorted(set(res.get("foreign_vmms", [])) | seen)

        if opts.diagnose and kind == "ferry":
            pauses = jvm_log_pauses(Path(opts.tmp) / f"jvm-{tag}.log")
            s = sorted(lat)
            res["diagnose"] = {
                "p99": correlate(stamps, lat, pauses, s[math.ceil(0.99 * len(s)) - 1]),
                "over_1ms": correlate(stamps, lat, pauses, 1_000_000),
            }
        if proc.poll() is not None:
            raise BenchError(f"exited with status {proc.returncode} during the measurement")
        res["ok"] = True
    except (BenchError, OSError, socket.timeout, ValueError) as e:
        res["error"] = f"{type(e).__name__}: {e}"
        try:
            tail = out_path.read_bytes()[-800:].decode(errors="replace").strip()
        except OSError:
            tail = ""
        if tail:
            res["error"] += " | output: " + tail.replace("\n", " | ")
    finally:
        if qmp:
            qmp.close()
        stop(proc)
        if opts.pin_vcpu:
            os.sched_setaffinity(0, opts.affinity)
    if not others:
        late = foreign_vmms()
        if late:
            res["foreign_vmms"] = late
    return res


# ------------------------------------------------------------------------------------------
# Set-up: build check, CDS archive, firmware identity
# ------------------------------------------------------------------------------------------


def cds_usable(argv, timeout):
    """Runs `java <flags> -Xshare:on -jar ferry.jar -version`: fails if the archive is unusable."""
    java, rest = argv[0], argv[1:]
    i = rest.index("-jar")
    jvm = [f for f in rest[:i] if not f.startswith("-Xshare")]
    probe = [java, *jvm, "-Xshare:on", "-jar", rest[i + 1], "-version"]
    proc = None
    try:
        proc = spawn(probe, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode == 0, (out + err).decode(errors="replace").strip()[-300:]
    except subprocess.TimeoutExpired:
        return False, "timeout"
    finally:
        stop(proc)


def prepare(opts):
    for p, what in ((JAR, "the Ferry jar (run ./ferry --build)"), (ELF, "the firmware ELF (run ./ferry --build)")):
        if not p.exists():
            raise BenchError(f"{p} is missing: {what}")
    if shutil.which(QEMU) is None:
        raise BenchError(f"{QEMU} is not on the PATH")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise BenchError("/dev/kvm is not accessible")
    opts.warnings = []
    vmm_args = ["-m", opts.mem, "-smp", "1", "-serial", "none", "-append", opts.append]
    target = TARGET
    stale = not JSA.exists() or JSA.stat().st_mtime < JAR.stat().st_mtime
    reason = None
    if opts.snapshot:
        reason = "--snapshot"
    elif stale:
        reason = "vmm/target/ferry.jsa is missing or older than ferry.jar (./ferry would retrain it)"
    else:
        argv, _ = launcher_java_command(vmm_args)
        ok, why = cds_usable(argv, opts.timeout)
        if not ok:
            reason = f"the JVM refuses vmm/target/ferry.jsa with -Xshare:on ({why})"
    if reason:
        log(f"qmp_latency: {reason}; using a private snapshot of vmm/target")
        target = make_snapshot(opts.tmp, opts.timeout, "qmp_latency")
        argv, _ = launcher_java_command(vmm_args, target)
        ok, why = cds_usable(argv, opts.timeout)
        if not ok:
            opts.warnings.append(f"the freshly trained CDS archive is not usable: {why}")
    opts.target_dir = target
    opts.snapshot_used = target != TARGET
    opts.ferry_argv = argv
    opts.stamp = jar_stamp(target)
    elf_sha = hashlib.sha256(ELF.read_bytes()).hexdigest()
    emb_sha = embedded_elf_sha(target)
    opts.elf_sha = elf_sha
    if emb_sha != elf_sha:
        opts.warnings.append(f"the firmware embedded in Ferry's jar ({emb_sha and emb_sha[:12]}) differs from "
                             f"{ELF} ({elf_sha[:12]}): the guests differ")


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------

ROWS = [
    # (group shown, section in a result, key, label, format)
    ("warm", "warm", "rt_per_s", "round trips/s", "{:,.0f}"),
    ("warm", "warm", "p50_us", "p50 µs", "{:.1f}"),
    ("warm", "warm", "p99_us", "p99 µs", "{:.1f}"),
    ("warm", "warm", "p99_9_us", "p99.9 µs", "{:,.1f}"),
    ("warm", "warm", "max_us", "max µs", "{:,.0f}"),
    ("warm", "warm", "over_1ms", "round trips > 1 ms", "{:.0f}"),
    ("pipelined", "pipelined", "cmds_per_s", "commands/s", "{:,.0f}"),
    ("pipelined", "pipelined", "batch_p50_us", "batch p50 µs", "{:,.0f}"),
    ("pipelined", "pipelined", "batch_p99_us", "batch p99 µs", "{:,.0f}"),
    ("cold", "cold", "rt_per_s", "round trips/s", "{:,.0f}"),
    ("cold", "cold", "p50_us", "p50 µs", "{:.1f}"),
    ("cold", "cold", "p99_us", "p99 µs", "{:,.1f}"),
    ("cold", "cold", "p99_9_us", "p99.9 µs", "{:,.1f}"),
    ("cold", "cold", "max_us", "max µs", "{:,.0f}"),
    ("warm-up", "warmup", "total_rts", "round trips (with cold)", "{:,.0f}"),
    ("warm-up", "warmup", "rt_per_s", "round trips/s after cold", "{:,.0f}"),
    ("warm-up", "warmup", "p99_us", "p99 µs after cold", "{:,.1f}"),
    ("warm-up", "warmup", "max_us", "max µs after cold", "{:,.0f}"),
    ("cost", "threads", "server_cpu_us", "VMM CPU µs/rt (no vCPU)", "{:.1f}"),
    ("cost", "threads", "jit_cpu_us", "of which JIT µs/rt", "{:.1f}"),
    ("cost", "threads", "server_switches", "VMM ctx switches/rt", "{:.2f}"),
    ("cost", "threads", "server_runq_wait_us", "VMM run-queue wait µs/rt", "{:.1f}"),
    ("cost", "warm", "client_cpu_us", "client CPU µs/rt", "{:.1f}"),
    ("cost", "pipelined", "server_cpu_us_per_cmd", "VMM CPU µs/cmd pipelined", "{:.1f}"),
    ("cost", "jvm", "gcs", "GCs in warm window", "{:.0f}"),
    ("cost", "jvm", "gc_ms", "GC pause ms in warm window", "{:.1f}"),
    ("cost", "jvm", "alloc_bytes_per_rt", "Java heap B allocated/rt", "{:,.0f}"),
    ("cost", "mem", "rss_end_mib", "VMM RSS at end MiB", "{:.0f}"),
    ("cost", "mem", "rss_growth_mib", "RSS growth during run MiB", "{:.0f}"),
]
GROUP_TITLES = {"warm": "warm", "cold": "cold", "pipelined": "pipelined", "warm-up": "warm-up", "cost": "cost"}


def medians(results, kind):
    ok = [r for r in results if r["vmm"] == kind and r["ok"]]
    out = {}
    for _, section, key, *_ in ROWS:
        vals = [r[section][key] for r in ok if r.get(section) and r[section].get(key) is not None]
        if vals:
            out.setdefault(section, {})[key] = {"median": statistics.median(vals), "min": min(vals),
                                                "max": max(vals), "runs": vals}
    return out


def ratio(f, q):
    return f / q if q else None


def print_report(opts, results, summary):
    print()
    print(f"QMP query-status, one {opts.transport}-socket connection per VMM, {opts.runs} interleaved run(s): "
          f"median (min-max over runs)")
    warm = (f"after a warm-up of at least {opts.warmup} round trips, for Ferry until its JIT is quiet"
            if not opts.fixed_warmup else f"after {opts.warmup} warm-up round trips")
    print(f"warm = {opts.count} round trips {warm}; pipelined = {opts.count // opts.batch} batches of "
          f"{opts.batch}; cold = first {opts.cold} round trips after qmp_capabilities; cost = during the warm window")
    print()
    hdr = f"{'':<10}{'':<26}{'ferry':>26}{'qemu':>26}{'ferry/qemu':>12}"
    print(hdr)
    print("-" * len(hdr))
    shown = None
    for group, section, key, label, fmt in ROWS:
        f = summary["ferry"].get(section, {}).get(key)
        q = summary["qemu"].get(section, {}).get(key)

        def cell(v):
            if v is None:
                return "-"
            if opts.runs == 1:
                return fmt.format(v["median"])
            return f"{fmt.format(v['median'])} ({fmt.format(v['min'])}-{fmt.format(v['max'])})"
        r = ratio(f["median"], q["median"]) if f and q else None
        rs = f"{r:.2f}" if r is not None else "-"
        name = GROUP_TITLES[group] if group != shown else ""
        shown = group
        print(f"{name:<10}{label:<26}{cell(f):>26}{cell(q):>26}{rs:>12}")
    print()
    print("ferry/qemu: for rates below 1 means Ferry is slower; for latencies and costs above 1 means Ferry "
          "is slower or costlier.")
    for kind in ("ferry", "qemu"):
        ok = [r for r in results if r["vmm"] == kind and r["ok"]]
        if not ok:
            continue
        mid = sorted(ok, key=lambda r: r["warm"]["rt_per_s"])[len(ok) // 2]
        parts = []
        for name, v in sorted(mid["threads"]["threads"].items(), key=lambda kv: -kv[1]["run_us"]):
            if v["vcpu"]:
                parts.append(f"{name} (spins in the guest) {v['run_us']:.0f} µs")
            else:
                parts.append(f"{name} {v['run_us']:.1f} µs {v['vcs'] + v['nvcs']:.2f} sw "
                             f"{v['wait_us']:.1f} µs runq")
        print(f"{kind} threads per warm rt (median run {mid['run']}): " + "; ".join(parts))
        print(f"{kind} 5 slowest warm round trips per run (µs): "
              + "; ".join(f"run {r['run']}: {r['warm_slowest_us']}" for r in ok))
    jvm = [r["jvm"] for r in results if r["vmm"] == "ferry" and r["ok"] and r.get("jvm")]
    if jvm:
        print("ferry JVM counters in the warm window, per run (hsperfdata): "
              + "; ".join(f"{j['young_gcs'] + j['full_gcs']} GCs {j['young_gc_ms'] + j['full_gc_ms']:.1f} ms, "
                          f"{j['safepoints']} safepoints {j['safepoint_ms']:.1f} ms, "
                          f"~{j['alloc_bytes_per_rt']:,.0f} B allocated/rt" for j in jvm)
              + f" (eden {jvm[-1]['eden_capacity_kib']:,} KiB)")
    for r in results:
        if r.get("diagnose"):
            for k in ("p99", "over_1ms"):
                x = r["diagnose"][k]
                print(f"ferry run {r['run']} --diagnose: {x['slow']} round trips >= {x['threshold_us']:.0f} µs: "
                      f"{x['overlap_gc']} overlap a GC pause, {x['overlap_safepoint_only']} only a safepoint "
                      f"(window: {x['gc_pauses_in_window']} GCs {x['gc_pause_ms_in_window']:.2f} ms, "
                      f"{x['safepoints_in_window']} safepoints {x['safepoint_ms_in_window']:.2f} ms)")
    for r in results:
        if not r["ok"]:
            print(f"FAILED: {r['vmm']} run {r['run']}: {r.get('error')}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="measurements per VMM, interleaved (default 3)")
    ap.add_argument("--count", type=int, default=20000, help="timed warm round trips (default 20000)")
    ap.add_argument("--warmup", type=int, default=2000,
                    help="round trips before the warm ones, the cold ones included (default 2000)")
    ap.add_argument("--cold", type=int, default=1000, help="first round trips reported as cold (default 1000)")
    ap.add_argument("--warmup-max", type=int, default=100000,
                    help="Ferry: at most this many warm-up round trips while waiting for the JIT (default 100000)")
    ap.add_argument("--jit-window", type=int, default=2000,
                    help="Ferry: round trips per JIT check after --warmup (default 2000)")
    ap.add_argument("--jit-quiet", type=float, default=0.02,
                    help="Ferry: warm once the JIT threads used less than this share of a window (default 0.02)")
    ap.add_argument("--fixed-warmup", action="store_true",
                    help="exactly --warmup round trips for Ferry too, JIT quiet or not")
    ap.add_argument("--transport", choices=("unix", "tcp"), default="unix",
                    help="QMP over a unix socket (default) or TCP on 127.0.0.1")
    ap.add_argument("--batch", type=int, default=64, help="commands per pipelined batch (default 64)")
    ap.add_argument("--mem", default="64M", help="guest RAM (default 64M)")
    ap.add_argument("--append", default="mode=idle", help='guest command line (default "mode=idle")')
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds between the socket appearing and connecting (default 1)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="per-measurement limit: start-up, and any single read (default 60 s)")
    ap.add_argument("--vmms", default="ferry,qemu", help="which VMMs, comma-separated (default ferry,qemu)")
    ap.add_argument("--snapshot", action="store_true",
                    help="always run a private copy of vmm/target with a freshly trained CDS archive")
    ap.add_argument("--jvm-flag", action="append", default=[], metavar="FLAG",
                    help="extra JVM flag for Ferry (experiments; repeatable; the output marks it)")
    ap.add_argument("--paused", action="store_true",
                    help="start both VMMs with -S (vCPU never runs): QMP without a spinning guest")
    ap.add_argument("--pin-vcpu", action="store_true",
                    help="pin each VMM's vCPU thread to the last CPU, its other threads and the client "
                         "to the rest (an operator's tuning, same for both VMMs)")
    ap.add_argument("--diagnose", action="store_true",
                    help="add -Xlog:gc,safepoint to Ferry and match slow round trips against pauses")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                    help="before each measurement wait up to S s until no other QEMU/Java runs")
    ap.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    opts = ap.parse_args()
    if opts.cold > opts.warmup:
        ap.error("--cold must not exceed --warmup")
    if min(opts.runs, opts.count, opts.cold, opts.batch) < 1:
        ap.error("--runs, --count, --cold and --batch must be at least 1")
    kinds = [k.strip() for k in opts.vmms.split(",") if k.strip()]
    if not kinds or any(k not in ("ferry", "qemu") for k in kinds):
        ap.error("--vmms takes ferry and/or qemu")

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)

    opts.affinity = os.sched_getaffinity(0)
    opts.tmp = tempfile.mkdtemp(prefix="ferry-qmp-bench-")
    opts.commands = {}
    results = []
    rc = 0
    try:
        prepare(opts)
        before_busy = cpu_busy()
        log(f"qmp_latency: host {platform.node()}, {os.cpu_count()} CPUs, {platform.release()}; "
            f"CPU busy before: {before_busy:.0%}")
        if before_busy > 0.2:
            opts.warnings.append(f"the host was {before_busy:.0%} busy before the runs")
        for w in opts.warnings:
            log(f"warning: {w}")
        for run in range(1, opts.runs + 1):
            order = kinds if run % 2 else list(reversed(kinds))
            for kind in order:
                log(f"qmp_latency: run {run}/{opts.runs}: {kind} ...")
                r = measure(kind, opts, run)
                results.append(r)
                if r["ok"]:
                    w, c, p = r["warm"], r["cold"], r["pipelined"]
                    log(f"  warm-up {r['warmup']['total_rts']:,} round trips"
                        + ("" if r["jit_quiet"] is None else f" (JIT quiet: {r['jit_quiet']})"))
                    if r["jit_quiet"] is False:
                        opts.warnings.append(f"ferry run {run}: the JIT was still busy after --warmup-max "
                                             f"{opts.warmup_max} round trips; 'warm' is not warm")
                    log(f"  warm {w['rt_per_s']:,.0f} rt/s p50 {w['p50_us']:.1f} p99 {w['p99_us']:.1f} "
                        f"p99.9 {w['p99_9_us']:.1f} max {w['max_us']:,.0f} µs | cold {c['rt_per_s']:,.0f} rt/s "
                        f"p50 {c['p50_us']:.1f} p99 {c['p99_us']:.1f} max {c['max_us']:,.0f} µs | "
                        f"pipelined {p['cmds_per_s']:,.0f} cmd/s")
                else:
                    log(f"  FAILED: {r['error']}")
                    rc = 1
                if r.get("foreign_vmms"):
                    opts.warnings.append(f"{kind} run {run}: other VMM/Java processes were running: "
                                         f"{r['foreign_vmms']}")
                if kind == "ferry" and not opts.snapshot_used and jar_stamp(opts.target_dir) != opts.stamp:
                    opts.warnings.append(f"vmm/target changed during the run (after ferry run {run}); "
                                         "use --snapshot")
                    opts.stamp = jar_stamp(opts.target_dir)
        summary = {k: medians(results, k) for k in ("ferry", "qemu")}
        log("")
        log("commands:")
        for k, c in opts.commands.items():
            log(f"  {k}: {c}")
        if opts.jvm_flag or opts.diagnose:
            log("note: Ferry ran with extra JVM flags (--jvm-flag/--diagnose): not the launcher's command")
        if opts.paused or opts.pin_vcpu:
            log("note: --paused/--pin-vcpu: not the default set-up (both VMMs alike)")
        report = {
            "benchmark": "qmp_latency", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
                     "cpu_busy_before": before_busy},
            "config": {k: getattr(opts, k) for k in ("runs", "count", "warmup", "cold", "batch", "mem", "append",
                                                      "settle", "jvm_flag", "diagnose", "paused", "pin_vcpu", "transport",
                                                      "warmup_max", "jit_window", "jit_quiet", "fixed_warmup")},
            "snapshot": opts.snapshot_used, "firmware_sha256": opts.elf_sha,
            "commands": opts.commands, "summary": summary,
            "ratios_ferry_over_qemu": {f"{s}.{k}": ratio(summary["ferry"][s][k]["median"], summary["qemu"][s][k]["median"])
                                       for _, s, k, *_ in ROWS
                                       if summary["ferry"].get(s, {}).get(k) and summary["qemu"].get(s, {}).get(k)},
            "runs": results, "warnings": opts.warnings,
        }
        if opts.json:
            json.dump(report, sys.stdout, indent=2, default=str)
            print()
        elif any(summary[k] for k in ("ferry", "qemu")):
            print_report(opts, results, summary)
        else:
            for r in results:
                if not r["ok"]:
                    print(f"FAILED: {r['vmm']} run {r['run']}: {r.get('error')}")
        for w in opts.warnings:
            log(f"warning: {w}")
    except BenchError as e:
        log(f"qmp_latency: {e}")
        rc = 2
    except KeyboardInterrupt as e:
        log(f"qmp_latency: interrupted ({e})")
        rc = 130
    finally:
        for proc in list(STARTED.values()):
            stop(proc)
        left = leftover_check(opts.tmp)
        if left:
            log(f"qmp_latency: ERROR: processes left behind: {left}")
            rc = rc or 3
        else:
            log(f"qmp_latency: leftover check (pgrep ferry.jar / qemu-system, by PID and session): none left")
        shutil.rmtree(opts.tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
