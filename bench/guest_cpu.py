#!/usr/bin/env python3
"""Host CPU used by a running guest: Ferry and QEMU side by side, same firmware ELF, same options.

For each VMM and each workload rate, boots a guest, waits for its heartbeat to settle, then
measures over a fixed window: the host CPU seconds per wall second of the whole VMM process and of
its vCPU threads (per vCPU), and the regularity of the heartbeat (host arrival times of the
`ferry: hb=` lines, and the guest's own uptime_ms between them). See bench/README.md.

    python3 bench/guest_cpu.py                         # rates 1,8,200 and idle, Ferry and QEMU microvm
    python3 bench/guest_cpu.py --elf OLD.elf --vmm ferry --json before.json
"""

import argparse
import json
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (BenchError, ELF, QEMU, foreign_vmms, launcher_java_command, log, spawn,  # noqa: E402
                      started_left, stop, thread_cpu_ticks)

HB = re.compile(rb"ferry: hb=(\d+) uptime_ms=(\d+) .* errors=(\d+)")
TICK = os.sysconf("SC_CLK_TCK")


def vmm_argv(vmm, opts, append):
    args = ["-m", opts.ram, "-smp", str(opts.smp), "-kernel", str(opts.elf), "-no-reboot",
            "-display", "none", "-serial", "stdio", "-append", append]
    if vmm == "ferry":
        return launcher_java_command(args)[0]
    return [QEMU, "-enable-kvm", "-M", vmm.split("-", 1)[1], "-cpu", "host,-arch-capabilities",
            "-nodefaults", "-no-user-config", "-name", "guest,debug-threads=on", *args]


def read_heartbeats(stream, out):
    for line in iter(stream.readline, b""):
        m = HB.search(line)
        if m:
            out.put((time.monotonic(), int(m.group(1)), int(m.group(2)), int(m.group(3))))
    out.put(None)


def one(vmm, opts, rate):
    append = f"mode=idle hb={opts.hb}" if rate == "idle" else f"mem={opts.mem} rate={rate} hb={opts.hb}"
    proc = spawn(vmm_argv(vmm, opts, append), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    beats = queue.Queue()
    threading.Thread(target=read_heartbeats, args=(proc.stdout, beats), daemon=True).start()
    try:
        def next_beat(limit):
            b = beats.get(timeout=limit)
            if b is None:
                raise BenchError(f"{vmm} rate={rate}: guest output ended (status {proc.wait()})")
            return b
        # Settle: the first touch of mem= MiB and the VMM's own warm-up are not the steady state.
        while next_beat(30)[1] < opts.settle_hb:
            pass
        t0 = time.monotonic()
        c0, v0 = thread_cpu_ticks(proc.pid)
        seen = []
        while time.monotonic() - t0 < opts.seconds:
            seen.append(next_beat(10))
        t1 = time.monotonic()
        c1, v1 = thread_cpu_ticks(proc.pid)
    finally:
        stop(proc)
    wall = t1 - t0
    host_gaps = [(b[0] - a[0]) * 1000 for a, b in zip(seen, seen[1:])]
    guest_gaps = [b[2] - a[2] for a, b in zip(seen, seen[1:])]
    return {
        "vmm": vmm, "rate": rate, "smp": opts.smp, "wall_s": round(wall, 3),
        "process_cores": round((c1 - c0) / TICK / wall, 4),
        "vcpu_cores_per_vcpu": round((v1 - v0) / TICK / wall / opts.smp, 4),
        "hb_host_gap_ms": summary(host_gaps), "hb_guest_gap_ms": summary(guest_gaps),
        "errors": seen[-1][3] if seen else None,
    }


def summary(v):
    if not v:
        return None
    return {"median": round(statistics.median(v), 2), "min": round(min(v), 2), "max": round(max(v), 2),
            "stdev": round(statistics.pstdev(v), 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vmm", default="ferry,qemu-microvm", help="from ferry,qemu-microvm,qemu-pc")
    ap.add_argument("--rates", default="1,8,200,idle", help="MiB/s values for rate=, or 'idle' (mode=idle)")
    ap.add_argument("--elf", type=Path, default=ELF, help="firmware ELF for both VMMs (default: the build's)")
    ap.add_argument("--ram", default="256M")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", type=int, default=64, help="workload MiB (mem=)")
    ap.add_argument("--hb", type=int, default=1000, help="heartbeat period in ms (hb=)")
    ap.add_argument("--settle-hb", type=int, default=3, help="measure from this heartbeat on")
    ap.add_argument("--seconds", type=float, default=10.0, help="measuring window")
    ap.add_argument("--json", type=Path, help="write the results here")
    opts = ap.parse_args()
    vmms = opts.vmm.split(",")
    if any(v.startswith("qemu") for v in vmms) and shutil.which(QEMU) is None:
        raise BenchError(f"{QEMU} not found (apt-get install qemu-system-x86)")
    if not opts.elf.is_file():
        raise BenchError(f"{opts.elf} not found: build first (./ferry --build)")
    others = foreign_vmms()
    if others:
        log(f"warning: other VMM/JVM processes running ({others}): they compete for CPU, not for"
            " this measure (CPU seconds), but they delay the heartbeat")
    rows = []
    for rate in opts.rates.split(","):
        for vmm in vmms:
            r = one(vmm, opts, rate)
            rows.append(r)
            log(f"{vmm:13} rate={rate:>5}  process {r['process_cores']:.3f} cores  per vCPU"
                f" {r['vcpu_cores_per_vcpu']:.3f}  hb gap host {r['hb_host_gap_ms']}  errors={r['errors']}")
    left = started_left()
    if left:
        raise BenchError(f"processes left running: {sorted(left)}")
    print(f"{'vmm':13} {'rate':>5} {'cores':>7} {'/vCPU':>7} {'hb host gap ms (med/min/max)':>30}"
          f" {'guest gap':>10} errors")
    for r in rows:
        h, g = r["hb_host_gap_ms"] or {}, r["hb_guest_gap_ms"] or {}
        print(f"{r['vmm']:13} {r['rate']:>5} {r['process_cores']:7.3f} {r['vcpu_cores_per_vcpu']:7.3f}"
              f" {h.get('median', 0):10.1f}/{h.get('min', 0):.1f}/{h.get('max', 0):.1f}"
              f" {g.get('median', 0):>14} {r['errors']}")
    if opts.json:
        meta = {"elf": str(opts.elf), "ram": opts.ram, "smp": opts.smp, "mem": opts.mem,
                "seconds": opts.seconds, "commit": subprocess.run(
                    ["git", "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE, text=True).stdout.strip()}
        opts.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        log(f"guest_cpu: {e}")
        sys.exit(1)
