#!/usr/bin/env python3
"""Boot time and VMM memory: Ferry against QEMU (microvm and pc) on the same machine.

Measures, in one interleaved run, the time from process start to the guest's first heartbeat
line ("ferry: hb=0 ...") on the serial console for

  ferry          the VMM exactly as ./ferry starts it (JVM flags read from the launcher, AppCDS)
  ferry-jdkcds   the same without the launcher's AppCDS archive (what ./ferry does when
                 vmm/target/ferry.jsa is missing): only the JDK's own CDS archive
  ferry-nocds    the same with -Xshare:off: no class-data sharing at all
  qemu-microvm   qemu-system-x86_64 -M microvm booting the very same firmware ELF
  qemu-pc        qemu-system-x86_64 -M pc (SeaBIOS first), same ELF

plus two reference rows without a guest (process start to exit): "jvm -version" (bare JVM
start-up with the launcher's GC and CDS settings) and "ferry -version" (JVM + Ferry's main
class and command line, no KVM).

A few seconds after the first heartbeat (at hb=--mem-at-hb) it reads /proc/PID/smaps and
reports the VMM's resident memory beyond guest RAM.

Afterwards a few Ferry boots run with -Xlog:class+load and CLOCK_MONOTONIC timestamps; the first
load of a few Ferry classes marks the start of each phase, which splits Ferry's boot time into
JVM start, CLI, KVM open (JNA), machine creation, VM/vCPU set-up and the guest's own boot.

Standard library only. Every process started is killed by PID (SIGTERM, then SIGKILL) in a
finally block, and a pgrep check at the end confirms that none is left. See bench/README.md.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import selectors
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from benchlib import (cpu_busy, BenchError, ELF, EMBEDDED_ELF, JAR, JSA, LAUNCHER, QEMU, ROOT, STARTED,
                      TARGET, foreign_vmms, jar_stamp, launcher_java_command, log, make_snapshot,
                      session_pids, spawn, started_left, stop)


HB_RE = re.compile(rb"ferry: hb=(\d+) uptime_ms=(\d+)")
MIB = 1024 * 1024


# ------------------------------------------------------------------------------------------
# The launcher's JVM command line
# ------------------------------------------------------------------------------------------


def split_jvm_args(argv):
    """(java, jvm_flags, rest) where rest starts at -jar."""
    i = argv.index("-jar")
    return argv[0], argv[1:i], argv[i:]


def without(flags, *prefixes):
    return [f for f in flags if not f.startswith(prefixes)]


# ------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------


def leftover_check():
    """pgrep for anything this script started (by PID and by session): must be nothing."""
    left = list(started_left())
    r = subprocess.run(["pgrep", "-P", str(os.getpid())], stdout=subprocess.PIPE, text=True)
    children = [int(p) for p in r.stdout.split() if int(p) != os.getpid()]
    # pgrep itself is gone by now; anything else is ours and left behind.
    left.extend(p for p in children if p in STARTED or session_pids(p))
    return sorted(set(left))


def cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def read_smaps(pid):
    maps = []
    cur = None
    head = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) (\S+) (\S+) (\d+)\s*(.*)$")
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = head.match(line)
            if m:
                cur = {"start": int(m.group(1), 16), "end": int(m.group(2), 16), "perms": m.group(3),
                       "name": m.group(7).strip()}
                cur["size"] = cur["end"] - cur["start"]
                maps.append(cur)
            elif cur is not None and line.rstrip().endswith(" kB"):
                key, value = line.split(":", 1)
                cur[key] = int(value.split()[0]) * 1024
    return maps


def guest_ram_maps(kind, maps, mem_bytes):
    if kind == "ferry":
        return [m for m in maps if "memfd:ferry-ram" in m["name"]]
    anon = [m for m in maps if m["name"] == ""]
    exact = [m for m in anon if m["size"] == mem_bytes]
    if exact:
        return exact
    big = [m for m in anon if m["size"] >= mem_bytes]
    return [max(big, key=lambda m: m["size"])] if big else []


def memory_report(kind, pid, mem_bytes):
    maps = read_smaps(pid)
    ram = guest_ram_maps(kind, maps, mem_bytes)
    if not ram:
        raise BenchError(f"pid {pid}: no guest RAM mapping found in smaps")
    total = sum(m.get("Rss", 0) for m in maps)
    anon = sum(m.get("Anonymous", 0) for m in maps)
    guest = sum(m.get("Rss", 0) for m in ram)
    guest_anon = sum(m.get("Anonymous", 0) for m in ram)
    threads = None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            threads = int(line.split()[1])
    return {
        "rss_total_mib": total / MIB,
        "rss_guest_mib": guest / MIB,
        "rss_vmm_mib": (total - guest) / MIB,
        "anon_vmm_mib": (anon - guest_anon) / MIB,
        "guest_maps": [f"{m['name'] or '[anon]'} {m['size'] // MIB} MiB" for m in ram],
        "threads": threads,
    }


def run_guest(target, opts, extra_jvm=(), until_hb=None, want_memory=False):
    """One boot: start, time the hb=0 line, optionally read smaps at hb=until_hb, stop."""
    argv = target["argv"]
    if extra_jvm:
        argv = [argv[0], *extra_jvm, *argv[1:]]
    until_hb = 0 if until_hb is None else until_hb
    proc = None
    res = {"ok": False}
    err_text = []
    t0 = time.monotonic_ns()
    try:
        proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        res["pid"] = proc.pid
        sel = selectors.DefaultSelector()
        bufs = {}
        for f in (proc.stdout, proc.stderr):
            os.set_blocking(f.fileno(), False)
            sel.register(f, selectors.EVENT_READ)
            bufs[f] = b""
        deadline = t0 + int(opts.timeout * 1e9)
        while True:
            now = time.monotonic_ns()
            if now >= deadline:
                raise BenchError(f"timeout after {opts.timeout:g} s waiting for hb={until_hb}")
            if not sel.get_map():
                proc.wait(timeout=max(0.0, (deadline - now) / 1e9))
                raise BenchError(f"exited with status {proc.returncode} before hb={until_hb}")
            for key, _ in sel.select((deadline - now) / 1e9):
                data = os.read(key.fd, 65536)
                t = time.monotonic_ns()
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                if key.fileobj is proc.stderr:
                    err_text.append(data)
                    continue
                buf = bufs[key.fileobj] + data
                *lines, bufs[key.fileobj] = buf.split(b"\n")
                for line in lines:
                    m = HB_RE.search(line)
                    if not m:
                        continue
                    hb = int(m.group(1))
                    if hb == 0 and "boot_ms" not in res:
                        res["boot_ms"] = (t - t0) / 1e6
                        res["guest_ms"] = int(m.group(2))
                        res["cpu_s_at_hb0"] = cpu_seconds(proc.pid)
                    if hb >= until_hb and "boot_ms" in res:
                        if want_memory:
                            res.update(memory_report(target["kind"], proc.pid, opts.mem_bytes))
                        res["ok"] = True
                        res["t0_ns"] = t0
                        return res
    except (BenchError, OSError, subprocess.TimeoutExpired) as e:
        res["error"] = str(e)
        tail = b"".join(err_text)[-600:].decode(errors="replace")
        if tail.strip():
            res["error"] += "; stderr: " + tail.strip().replace("\n", " | ")
        return res
    finally:
        stop(proc)


def run_to_exit(argv, opts):
    """Reference rows: process start to exit (e.g. java -version)."""
    proc = None
    t0 = time.monotonic_ns()
    try:
        proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=opts.timeout)
        t = time.monotonic_ns()
        if proc.returncode != 0:
            return {"ok": False, "error": f"exit {proc.returncode}: {err.decode(errors='replace')[-300:]}"}
        return {"ok": True, "boot_ms": (t - t0) / 1e6, "stdout": out.decode(errors="replace"),
                "stderr": err.decode(errors="replace")}
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "timeout"}
    finally:
        stop(proc)


# ------------------------------------------------------------------------------------------
# Checks: CDS use, same ELF, stale build
# ------------------------------------------------------------------------------------------

LOAD_RE = re.compile(r"^\[(\d+)ns\]\s+(\S+) source: (.*)$")


def class_load_log(path):
    events = []
    try:
        with open(path) as f:
            for line in f:
                m = LOAD_RE.match(line)
                if m:
                    events.append((int(m.group(1)), m.group(2), m.group(3)))
    except FileNotFoundError:
        pass
    return events


def cds_stats(events):
    total = len(events)
    shared = sum(1 for e in events if e[2].startswith("shared objects file"))
    top = sum(1 for e in events if e[2].startswith("shared objects file (top)"))
    ferry = [e for e in events if e[1].startswith("dev.ferry.")]
    ferry_shared = sum(1 for e in ferry if e[2].startswith("shared objects file"))
    return {"classes": total, "from_cds": shared, "from_app_archive": top,
            "ferry_classes": len(ferry), "ferry_from_cds": ferry_shared}


# Phase boundaries: first load of these classes (CLOCK_MONOTONIC, via -Xlog ... :timenanos).
PHASES = [
    ("exec -> JVM init", None),                                    # to the first class loaded
    ("JVM init -> Ferry main class", "dev.ferry.vmm.Main"),
    ("command line", "dev.ferry.vmm.hypervisor.kvm.Kvm"),
    ("KVM open (JNA init, /dev/kvm, caps)", "dev.ferry.vmm.machine.Machine"),
    ("machine create (RAM memfd, devices, ELF, CPUID)", "dev.ferry.vmm.hypervisor.kvm.KvmVm"),
]


def breakdown_one(target, opts, tmp, index):
    logf = Path(tmp) / f"class-load-{target['name']}-{index}.log"
    # Drop the default "warnings to stdout" first (stdout is the guest console), then log ours.
    flags = ["-Xlog:disable", "-Xlog:all=warning:stderr", f"-Xlog:class+load=info:file={logf}:timenanos"]
    res = run_guest(target, opts, extra_jvm=flags, until_hb=0)
    events = class_load_log(logf)
    try:
        logf.unlink()
    except FileNotFoundError:
        pass
    if not res.get("ok"):
        return res
    res["cds"] = cds_stats(events)
    t0 = res["t0_ns"]
    first = {}
    for t, name, _ in events:
        first.setdefault(name, t)
    marks = [events[0][0] if events else None]
    for _, cls in PHASES[1:]:
        marks.append(first.get(cls))
    if any(m is None for m in marks) or marks != sorted(marks):
        # A marker class was never loaded, or Ferry now loads them in another order: PHASES needs updating.
        res["phases"] = None
        res["error"] = "phase marker classes missing or out of order; update PHASES in bench/boot.py"
        return res
    marks = [(m - t0) / 1e6 for m in marks]
    phases = {}
    prev = 0.0
    for (label, _), m in zip(PHASES, marks):
        phases[label] = m - prev
        prev = m
    first_insn = res["boot_ms"] - res["guest_ms"]
    phases["VM + vCPU create, kernel load, vCPU start"] = first_insn - prev
    phases["guest: first instruction -> hb=0 (guest TSC)"] = float(res["guest_ms"])
    res["phases"] = phases
    return res


def stale_sources():
    """What ./ferry's needs_build() would find: a source file newer than the jar."""
    if not JAR.exists():
        return ["(no jar)"]
    jar_mtime = JAR.stat().st_mtime
    exts = (".java", ".c", ".h", ".S", ".ld", ".def", ".awk", ".sh")
    names = ("Makefile", "pom.xml")
    newer = []
    for top in ("vmm", "migration", "firmware-stub"):
        for dirpath, dirnames, files in os.walk(ROOT / top):
            dirnames[:] = [d for d in dirnames if d != "target"]
            for f in files:
                if f.endswith(exts) or f in names:
                    p = Path(dirpath) / f
                    if p.stat().st_mtime > jar_mtime:
                        newer.append(str(p.relative_to(ROOT)))
    if (ROOT / "pom.xml").stat().st_mtime > jar_mtime:
        newer.append("pom.xml")
    return newer


def embedded_elf(jar):
    """The firmware ELF inside the jar Ferry loads it from (found via the manifest), or None."""
    with zipfile.ZipFile(jar) as z:
        manifest = z.read("META-INF/MANIFEST.MF").decode()
        if EMBEDDED_ELF in z.namelist():
            return z.read(EMBEDDED_ELF)
    manifest = re.sub(r"\r?\n ", "", manifest)
    m = re.search(r"^Class-Path: (.*)$", manifest, re.M)
    for entry in (m.group(1).split() if m else []):
        p = jar.parent / entry
        if p.exists():
            with zipfile.ZipFile(p) as z:
                if EMBEDDED_ELF in z.namelist():
                    return z.read(EMBEDDED_ELF)
    return None


def snapshot_with_firmware(opts, tmp):
    """A private snapshot (benchlib.make_snapshot) plus the firmware embedded in its jar, which
    QEMU then boots: both VMMs run the very same image."""
    snap = make_snapshot(tmp, opts.timeout, "boot.py")
    elf = embedded_elf(snap / "ferry.jar")
    if elf is None:
        raise BenchError(f"no {EMBEDDED_ELF} in the snapshot's jars")
    (snap / "ferry-stub.elf").write_bytes(elf)
    return snap


def wait_quiet(limit):
    """Waits (up to limit seconds) until no other VMM/JVM runs and the CPUs are mostly idle."""
    deadline = time.monotonic() + limit
    waited = False
    while time.monotonic() < deadline:
        if not foreign_vmms() and cpu_busy(0.3) < 0.15:
            break
        if not waited:
            log("boot.py: waiting for other VMMs/JVMs to finish...")
            waited = True
        time.sleep(1)


def loadavg():
    try:
        return Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return None


def parse_mem(s):
    m = re.fullmatch(r"(\d+)([KMGT]?)B?", s.strip(), re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {s!r}")
    n = int(m.group(1))
    unit = m.group(2).upper() or "M"          # QEMU: a bare number means MiB
    return n << {"K": 10, "M": 20, "G": 30, "T": 40}[unit]


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "n": len(values)}


def machine_info(java):
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    def cmd(argv):
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=20)
            return r.stdout.strip().splitlines()
        except (OSError, subprocess.TimeoutExpired):
            return ["?"]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "java": (cmd([java, "-version"]) + ["?", "?"])[1],
        "qemu": cmd([QEMU, "--version"])[0],
    }


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------

def build_targets(opts):
    vmm_args = ["-m", opts.mem, "-smp", str(opts.smp), "-nographic", "-append", opts.append]
    launcher, _ = launcher_java_command(vmm_args, opts.target_dir)
    java, jvm, rest = split_jvm_args(launcher)
    if not any(f.startswith("-XX:SharedArchiveFile=") for f in jvm):
        raise BenchError(f"the launcher's command has no -XX:SharedArchiveFile: {launcher}")
    qemu_common = ["-enable-kvm", "-cpu", "host,-arch-capabilities", "-m", opts.mem, "-smp", str(opts.smp),
                   "-nographic", "-nodefaults", "-serial", "stdio", "-no-reboot", "-kernel", str(opts.elf),
                   "-append", opts.append]
    targets = [
        {"name": "ferry", "label": "ferry (./ferry flags, AppCDS)", "kind": "ferry", "argv": launcher},
    ]
    if not opts.skip_nocds:
        targets.append({"name": "ferry-jdkcds", "label": "ferry, JDK CDS only (no ferry.jsa)", "kind": "ferry",
                        "argv": [java, *without(jvm, "-XX:SharedArchiveFile="), *rest]})
        targets.append({"name": "ferry-nocds", "label": "ferry, -Xshare:off (no CDS)", "kind": "ferry",
                        "argv": [java, *without(jvm, "-XX:SharedArchiveFile=", "-Xshare:"), "-Xshare:off", *rest]})
    for spec in opts.variant:
        name, _, flags = spec.partition(":")
        targets.append({"name": name, "label": f"ferry variant {name}", "flags": flags, "kind": "ferry",
                        "argv": [java, *jvm, *shlex.split(flags), *rest]})
    if opts.launcher:
        targets.append({"name": "ferry-script", "label": "ferry via ./ferry (sh + stale check)", "kind": "ferry",
                        "argv": [str(LAUNCHER), *vmm_args]})
    targets.append({"name": "qemu-microvm", "label": "qemu -M microvm", "kind": "qemu",
                    "argv": [QEMU, "-M", "microvm", *qemu_common]})
    if not opts.skip_pc:
        targets.append({"name": "qemu-pc", "label": "qemu -M pc (SeaBIOS)", "kind": "qemu",
                        "argv": [QEMU, "-M", "pc", *qemu_common]})
    refs = []
    if not opts.skip_reference:
        refs = [
            {"name": "jvm-version", "label": "ref: java -version (JVM only)", "kind": "ref",
             "argv": [java, *without(jvm, "-XX:SharedArchiveFile="), "-version"]},
            {"name": "ferry-version", "label": "ref: ferry -version (JVM + main)", "kind": "ref",
             "argv": [java, *jvm, "-jar", str(opts.jar), "-version"]},
        ]
    return launcher, targets, refs


def main():
    ap = argparse.ArgumentParser(description="Boot time and memory: Ferry vs QEMU microvm/pc (see bench/README.md)")
    ap.add_argument("--runs", type=int, default=7, help="timed runs per row, interleaved (default 7)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    ap.add_argument("--mem", default="128M", help="guest RAM, QEMU syntax (default 128M)")
    ap.add_argument("--smp", type=int, default=1, help="vCPUs (default 1)")
    ap.add_argument("--append", default="mem=8 rate=8", help="guest workload options (default 'mem=8 rate=8')")
    ap.add_argument("--mem-at-hb", type=int, default=2, help="read smaps at this heartbeat (default 2)")
    ap.add_argument("--timeout", type=float, default=20.0, help="per-run timeout in seconds (default 20)")
    ap.add_argument("--breakdown-runs", type=int, default=5,
                    help="extra Ferry boots with class-load timestamps for the phase split (default 5, 0: none)")
    ap.add_argument("--skip-pc", action="store_true", help="leave out qemu -M pc (~3 s per boot)")
    ap.add_argument("--skip-nocds", action="store_true", help="leave out the two no-AppCDS Ferry rows")
    ap.add_argument("--skip-reference", action="store_true", help="leave out the -version reference rows")
    ap.add_argument("--launcher", action="store_true",
                    help="also time ./ferry itself (sh, stale-source check, exec); refused if it would rebuild")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME:JVMFLAGS",
                    help="extra Ferry row: the launcher's command plus these JVM flags, e.g. "
                         "'g1:-XX:-UseSerialGC -XX:+UseG1GC' (repeatable)")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="before each run, wait up to S seconds until no other QEMU/java process runs and the CPUs"
                         " are idle (for shared machines; default 0: don't wait)")
    ap.add_argument("--snapshot", action="store_true",
                    help="run a private copy of vmm/target with a freshly trained ferry.jsa (same launcher flags),"
                         " so builds running meanwhile cannot change what is measured")
    ap.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout (progress on stderr)")
    opts = ap.parse_args()
    opts.mem_bytes = parse_mem(opts.mem)
    if opts.runs < 1:
        ap.error("--runs must be at least 1")
    if opts.launcher and opts.snapshot:
        ap.error("--launcher runs ./ferry on vmm/target itself, which --snapshot avoids; use one of them")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even if started with SIGINT ignored

    rc = 0
    tmp = tempfile.mkdtemp(prefix="ferry-bench-")
    try:
        report = bench(opts, tmp)
        if opts.json:
            print(json.dumps(report, indent=2))
        else:
            print_report(report)
    except BenchError as e:
        log(f"boot.py: error: {e}")
        rc = 1
    except KeyboardInterrupt:
        log("boot.py: interrupted")
        rc = 130
    finally:
        for proc in list(STARTED.values()):
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
        left = leftover_check()
        if left:
            log(f"boot.py: LEFTOVER PROCESSES: {left}")
            rc = rc or 2
        else:
            log(f"boot.py: cleanup check: none of the {len(STARTED)} processes started is left (pgrep)")
    return rc


def bench(opts, tmp):
    needed = [(JAR, "the Ferry jar")] + ([] if opts.snapshot else [(JSA, "the AppCDS archive"), (ELF, "the firmware ELF")])
    for p, what in needed:
        if not p.exists():
            raise BenchError(f"{what} {p} is missing; build with ./ferry --build")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise BenchError("/dev/kvm is not usable")
    if shutil.which(QEMU) is None:
        raise BenchError(f"{QEMU} not found")
    opts.target_dir = snapshot_with_firmware(opts, tmp) if opts.snapshot else None
    target_dir = opts.target_dir or TARGET
    opts.jar = target_dir / "ferry.jar"
    opts.elf = target_dir / "ferry-stub.elf" if opts.snapshot else ELF
    jsa = target_dir / "ferry.jsa"
    launcher, targets, refs = build_targets(opts)
    stamp = jar_stamp(target_dir)
    info = machine_info(launcher[0])
    try:
        info["commit"] = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        info["commit"] = "?"
    info["loadavg_start"] = loadavg()
    info["cpu_busy_start"] = round(cpu_busy(), 3)
    info["date"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    log(f"boot.py: {info['cpus']} x {info['cpu_model']}, Linux {info['kernel']}, {info['java']}, {info['qemu']}")
    log(f"boot.py: launcher command: {shlex.join(launcher)}")

    warnings = []
    stale = stale_sources()
    if stale:
        warnings.append(f"sources newer than ferry.jar ({', '.join(stale[:3])}{'...' if len(stale) > 3 else ''}):"
                        " ./ferry would rebuild first; this measures the existing jar")
    if not opts.snapshot and (stale or jsa.stat().st_mtime < opts.jar.stat().st_mtime):
        if any(t["name"] == "ferry-script" for t in targets):
            warnings.append("left out the ./ferry row: the launcher would rebuild or retrain first")
        targets = [t for t in targets if t["name"] != "ferry-script"]
    if jsa.stat().st_mtime < opts.jar.stat().st_mtime:
        warnings.append("ferry.jsa is older than ferry.jar: the JVM rejects such an archive"
                        " (./ferry --build retrains it)")
    elf_sha = hashlib.sha256(opts.elf.read_bytes()).hexdigest()
    emb = embedded_elf(opts.jar)
    emb_sha = hashlib.sha256(emb).hexdigest() if emb is not None else None
    if emb_sha != elf_sha:
        raise BenchError(f"the firmware embedded in Ferry ({emb_sha}) differs from {opts.elf} ({elf_sha});"
                         " rebuild with ./ferry --build, or use --snapshot")
    log(f"boot.py: same firmware ELF for all: sha256 {elf_sha[:16]}... ({opts.elf.stat().st_size} bytes)")
    for w in warnings:
        log(f"boot.py: warning: {w}")

    # -- CDS check: -Xshare:on refuses to start when the archive cannot be used.
    java, jvm, _ = split_jvm_args(launcher)
    on_flags = [("-Xshare:on" if f.startswith("-Xshare:") else f) for f in jvm]
    r = run_to_exit([java, *on_flags, "-jar", str(opts.jar), "-version"], opts)
    xshare_on = {"ok": r["ok"], "detail": (r.get("error") or "").strip()[:300]}
    log(f"boot.py: -Xshare:on with the launcher's archive: {'accepted' if r['ok'] else 'REFUSED: ' + r['error']}")

    # -- CDS use per Ferry row (one boot each with a class-load log); doubles as warm-up.
    cds = {}
    for t in targets:
        if t["kind"] != "ferry" or t["name"] == "ferry-script":
            continue
        res = breakdown_one(t, opts, tmp, "cds")
        if not res.get("ok"):
            raise BenchError(f"{t['name']}: {res.get('error')}")
        cds[t["name"]] = res["cds"]
        c = res["cds"]
        log(f"boot.py: {t['name']}: {c['from_cds']} of {c['classes']} classes from CDS archives, "
            f"{c['from_app_archive']} from ferry.jsa; Ferry's own: {c['ferry_from_cds']} of {c['ferry_classes']}")
    if cds.get("ferry", {}).get("from_app_archive", 0) == 0 or not xshare_on["ok"]:
        warnings.append("the launcher's AppCDS archive is NOT used: the 'ferry' row runs without it")
        log("boot.py: WARNING: " + warnings[-1])

    # -- Warm-up and timed runs, interleaved.
    results = {t["name"]: [] for t in targets + refs}
    rounds = opts.warmup + opts.runs
    for i in range(rounds):
        timed = i >= opts.warmup
        for t in targets + refs:
            if opts.wait_quiet > 0:
                wait_quiet(opts.wait_quiet)
            company = foreign_vmms()
            if t["kind"] == "ref":
                res = run_to_exit(t["argv"], opts)
                res.pop("stdout", None)
                res.pop("stderr", None)
            else:
                res = run_guest(t, opts, until_hb=opts.mem_at_hb, want_memory=True)
                res.pop("t0_ns", None)
            company = set(company) | set(foreign_vmms())
            res["foreign_vmms"] = len(company)
            tag = f"run {i - opts.warmup + 1}/{opts.runs}" if timed else "warm-up"
            if company:
                tag += f" (with {len(company)} other VMM/JVM processes running)"
            if res.get("ok"):
                extra = f", guest {res['guest_ms']} ms, VMM RSS {res['rss_vmm_mib']:.1f} MiB" if "guest_ms" in res else ""
                log(f"boot.py: {tag} {t['name']}: {res['boot_ms']:.0f} ms{extra}")
            else:
                log(f"boot.py: {tag} {t['name']}: FAILED: {res.get('error')}")
            if timed:
                results[t["name"]].append(res)

    # -- Phase split for the launcher's configuration.
    phases = []
    ferry_target = targets[0]
    for i in range(opts.breakdown_runs):
        if opts.wait_quiet > 0:
            wait_quiet(opts.wait_quiet)
        res = breakdown_one(ferry_target, opts, tmp, i)
        if res.get("ok") and res.get("phases"):
            phases.append(res)
            log(f"boot.py: breakdown {i + 1}/{opts.breakdown_runs}: {res['boot_ms']:.0f} ms")
        elif res.get("ok"):
            log(f"boot.py: breakdown {i + 1}/{opts.breakdown_runs}: {res.get('error')}")
        else:
            log(f"boot.py: breakdown {i + 1}/{opts.breakdown_runs}: FAILED: {res.get('error')}")

    info["loadavg_end"] = loadavg()
    info["cpu_busy_end"] = round(cpu_busy(), 3)
    busiest = max(info["cpu_busy_start"], info["cpu_busy_end"])
    if busiest > 0.2:
        warnings.append(f"the machine was busy before/after the runs ({busiest:.0%} of all CPU time, sampled for 1 s"
                        " with nothing of ours running): results are noisy")
        log("boot.py: WARNING: " + warnings[-1])
    if jar_stamp(target_dir) != stamp:
        warnings.append(f"{target_dir} changed during the run (a rebuild?): rows may mix builds;"
                        " use --snapshot")
        log("boot.py: WARNING: " + warnings[-1])

    crowded = sum(1 for rs in results.values() for r in rs if r.get("foreign_vmms"))
    if crowded:
        warnings.append(f"{crowded} of {sum(len(rs) for rs in results.values())} timed runs had other VMM/JVM"
                        " processes (QEMU, java) running beside them")
        log("boot.py: WARNING: " + warnings[-1])

    rows = []
    for t in targets + refs:
        ok = [r for r in results[t["name"]] if r.get("ok")]
        row = {"name": t["name"], "label": t["label"], "flags": t.get("flags"), "argv": t["argv"], "runs": len(results[t["name"]]),
               "failed": len(results[t["name"]]) - len(ok), "boot_ms": summarize([r["boot_ms"] for r in ok]),
               "raw_boot_ms": [round(r["boot_ms"], 1) for r in ok]}
        if t["kind"] != "ref":
            for key in ("guest_ms", "cpu_s_at_hb0", "rss_vmm_mib", "anon_vmm_mib", "rss_guest_mib", "rss_total_mib",
                        "threads"):
                row[key] = summarize([r.get(key) for r in ok])
            row["guest_maps"] = ok[0]["guest_maps"] if ok else None
        if t["name"] in cds:
            row["cds"] = cds[t["name"]]
        rows.append(row)

    def med(name, key):
        for r in rows:
            if r["name"] == name and r.get(key):
                return r[key]["median"]
        return None

    ratios = {}
    for other in ("qemu-microvm", "qemu-pc"):
        for key in ("boot_ms", "rss_vmm_mib", "anon_vmm_mib"):
            a, b = med("ferry", key), med(other, key)
            if a and b:
                ratios[f"ferry/{other} {key}"] = a / b
    breakdown = None
    if phases:
        labels = list(phases[0]["phases"].keys())
        breakdown = {
            "runs": len(phases),
            "boot_ms_median": statistics.median(r["boot_ms"] for r in phases),
            "phases_ms_median": {k: statistics.median(r["phases"][k] for r in phases) for k in labels},
        }
    return {
        "benchmark": "boot", "machine": info, "options": {
            "runs": opts.runs, "warmup": opts.warmup, "mem": opts.mem, "smp": opts.smp, "append": opts.append,
            "mem_at_hb": opts.mem_at_hb, "timeout_s": opts.timeout},
        "command_line": shlex.join([sys.argv[0], *sys.argv[1:]]),
        "launcher_command": launcher, "snapshot": bool(opts.snapshot), "elf": str(opts.elf),
        "jar": f"{opts.jar.stat().st_size} bytes, built {datetime.datetime.fromtimestamp(opts.jar.stat().st_mtime).astimezone().isoformat(timespec='seconds')}"
               + (" (sources newer: not what ./ferry would run)" if stale else ""), "firmware_sha256": elf_sha, "xshare_on_check": xshare_on,
        "warnings": warnings, "rows": rows, "ratios": ratios, "target_ratio_microvm": 4.0,
        "breakdown": breakdown,
    }


def fmt(stat, f="{:.0f}"):
    return f.format(stat["median"]) if stat else "-"


def print_report(rep):
    o = rep["options"]
    print(f"Boot to first heartbeat: {o['runs']} interleaved runs per row (+{o['warmup']} warm-up), "
          f"-m {o['mem']} -smp {o['smp']} -append \"{o['append']}\"; memory at hb={o['mem_at_hb']}")
    m = rep["machine"]
    print(f"{m['date']}  {m['cpus']} x {m['cpu_model']}  Linux {m['kernel']}  {m['java']}  {m['qemu']}")
    print(f"commit {m.get('commit', '?')}; jar {rep.get('jar')}")
    print(f"host CPU busy without our VMMs: {m.get('cpu_busy_start', 0):.0%} before, {m.get('cpu_busy_end', 0):.0%} after"
          f"{'; private snapshot of vmm/target with its own ferry.jsa' if rep.get('snapshot') else ''}")
    print()
    head = (f"{'row':38} {'median':>7} {'min':>6} {'max':>6} {'guest':>6} {'cpu@hb0':>8} "
            f"{'VMM RSS':>8} {'VMM anon':>9} {'threads':>7}")
    print(head)
    print(f"{'':38} {'ms':>7} {'ms':>6} {'ms':>6} {'ms':>6} {'s':>8} {'MiB':>8} {'MiB':>9} {'':>7}")
    print("-" * len(head))
    for r in rep["rows"]:
        b = r["boot_ms"]
        lo = f"{b['min']:.0f}" if b else "-"
        hi = f"{b['max']:.0f}" if b else "-"
        cells = [f"{r['label'][:38]:38}", f"{fmt(b):>7}", f"{lo:>6}", f"{hi:>6}"]
        if "guest_ms" in r:
            cells += [f"{fmt(r['guest_ms']):>6}", f"{fmt(r['cpu_s_at_hb0'], '{:.2f}'):>8}",
                      f"{fmt(r['rss_vmm_mib'], '{:.1f}'):>8}", f"{fmt(r['anon_vmm_mib'], '{:.1f}'):>9}",
                      f"{fmt(r['threads']):>7}"]
        if r["failed"]:
            cells.append(f"  ({r['failed']} failed)")
        print(" ".join(cells))
    print()
    print("guest: the guest's own uptime_ms at hb=0 (first instruction to heartbeat, guest TSC).")
    print("VMM RSS/anon: resident (anonymous) memory of the VMM process minus its guest-RAM mapping(s).")
    print()
    variants = [r for r in rep["rows"] if r.get("flags")]
    for r in variants:
        print(f"variant {r['name']}: the launcher's command plus {r['flags']}")
    if variants:
        print()
    for k, v in rep["ratios"].items():
        print(f"  {k:34} {v:5.2f}x")
    r = rep["ratios"].get("ferry/qemu-microvm boot_ms")
    if r:
        verdict = "MET" if r <= rep["target_ratio_microvm"] else "NOT MET"
        print(f"  target: Ferry boot within {rep['target_ratio_microvm']:g}x of QEMU microvm: {verdict} ({r:.2f}x)")
    for row in rep["rows"]:
        if "cds" in row:
            c = row["cds"]
            print(f"  CDS {row['name']:14} {c['from_cds']:5} of {c['classes']} classes shared, "
                  f"{c['from_app_archive']} from ferry.jsa; Ferry classes {c['ferry_from_cds']}/{c['ferry_classes']}")
    print(f"  -Xshare:on with ferry.jsa: {'accepted' if rep['xshare_on_check']['ok'] else 'REFUSED'}")
    bd = rep.get("breakdown")
    if bd:
        print()
        print(f"Ferry boot split ({bd['runs']} boots with -Xlog:class+load timestamps, median "
              f"{bd['boot_ms_median']:.0f} ms; phase medians need not add up exactly):")
        for k, v in bd["phases_ms_median"].items():
            print(f"  {k:52} {v:6.0f} ms")
    for w in rep["warnings"]:
        print(f"warning: {w}")


if __name__ == "__main__":
    sys.exit(main())
