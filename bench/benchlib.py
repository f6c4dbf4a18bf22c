"""Helpers shared by Ferry's benchmarks: the launcher's JVM command line, a private snapshot of
vmm/target, and processes that are always stopped by PID (see bench/README.md, "Safety")."""

import ctypes
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "ferry"
TARGET = ROOT / "vmm" / "target"
JAR = TARGET / "ferry.jar"
JSA = TARGET / "ferry.jsa"
ELF = ROOT / "firmware-stub" / "target" / "classes" / "firmware" / "ferry-stub.elf"
EMBEDDED_ELF = "firmware/ferry-stub.elf"
QEMU = "qemu-system-x86_64"

# Every process a benchmark started: pid -> Popen. Used by stop() and the final leftover check.
STARTED = {}

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


class BenchError(Exception):
    pass


def log(msg=""):
    print(msg, file=sys.stderr, flush=True)


def launcher_lines():
    """The launcher's lines, with backslash-newline continuations joined and comments dropped."""
    text = LAUNCHER.read_text().replace("\\\n", " ")
    return [ln.strip() for ln in text.splitlines() if not ln.strip().startswith("#")]


def launcher_java_command(vmm_args, target_dir=None):
    """The argv ./ferry execs, read from the launcher script itself.

    Takes the simple assignments (jar=..., jsa=..., cds=...) and the final `exec "$java" ...`
    line, and expands the variables the way sh would for the case "jar built, ferry.jsa present".
    Anything unexpected is an error, so a changed launcher is noticed instead of silently
    benchmarking different flags. target_dir replaces vmm/target (for --snapshot).

    Returns (run_argv, training_argv): the exec line, and the CDS training run after a build.
    """
    java_home = os.environ.get("JAVA_HOME")
    values = {
        "root": str(ROOT),
        "java": (java_home + "/bin/java") if java_home else "java",
        "FERRY_JAVA_OPTS": os.environ.get("FERRY_JAVA_OPTS", ""),
    }
    fixed = {"root", "java", "changed"}
    if target_dir is not None:
        values["target"] = str(target_dir)
        fixed.add("target")

    def expand(word):
        def sub(m):
            name = m.group(1) or m.group(2)
            if name not in values:
                raise BenchError(f"launcher {LAUNCHER} uses ${name}, which the benchmarks do not"
                                 " know; update bench/benchlib.py launcher_java_command()")
            return values[name]
        word = re.sub(r"\$\{(\w+):-\}", lambda m: values.get(m.group(1), ""), word)
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, word)

    exec_line = training_line = None
    for line in launcher_lines():
        m = re.fullmatch(r'(\w+)=(".*"|[^\s"$`()]*)', line)
        if m and m.group(1) not in fixed:
            value = m.group(2)
            if value.startswith('"'):
                value = value[1:-1]
            if "$(" in value or "`" in value:
                continue
            expanded = expand(value)
            # cds="" appears before cds="...$jsa..."; the jsa is present, so the last one wins.
            values[m.group(1)] = expanded
        if line.startswith("exec ") and "$java" in line:
            exec_line = line
        if line.startswith('"$java"') and "ArchiveClassesAtExit" in line:
            training_line = line
    if exec_line is None:
        raise BenchError(f"no 'exec \"$java\" ...' line in {LAUNCHER}")

    def words(line):
        argv = []
        for tok in shlex.split(line, posix=False):
            if tok.startswith((">", "2>", "||", "&&", ";")):
                break
            if tok == '"$@"':
                argv.extend(vmm_args)
            elif tok.startswith('"') and tok.endswith('"'):
                argv.append(expand(tok[1:-1]))          # quoted: one word
            else:
                # unquoted: word splitting (an empty value vanishes); quotes inside a word go
                argv.extend(expand(tok.replace('"', "")).split())
        return argv
    return words(exec_line[len("exec "):]), (words(training_line) if training_line else None)


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL if this script dies, even by SIGKILL."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(argv, **kw):
    proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_die_with_parent, **kw)
    STARTED[proc.pid] = proc
    return proc


def stop(proc, term_timeout=5.0):
    """SIGTERM, then SIGKILL after term_timeout; always reaps. Ctrl-C is held off meanwhile."""
    if proc is None:
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=term_timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        # Grandchildren in the child's session (JNA runs /sbin/ldconfig, for instance).
        for pid in session_pids(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()
    finally:
        signal.signal(signal.SIGINT, old)


def session_pids(sid):
    r = subprocess.run(["pgrep", "-s", str(sid)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return [int(p) for p in r.stdout.split()]


def foreign_vmms():
    """Other VMM/JVM processes on the machine (not started by this script): they compete for CPU."""
    mine = set(STARTED) | {os.getpid()}
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) in mine:
            continue
        try:
            comm = (d / "comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith("qemu-system") or comm in ("java", "firecracker", "cloud-hyperviso"):
            found.append(int(d.name))
    return found


def started_left():
    """Processes this script started (by PID, zombies aside, and by session) that still run."""
    left = set()
    for pid in STARTED:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                left.add(pid)
        except OSError:
            pass
        left.update(session_pids(pid))
    return left


def cpu_busy(seconds=1.0):
    """Fraction of all CPUs' time not idle over a short sample (/proc/stat)."""
    def sample():
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = f[3] + f[4]                       # idle + iowait
        return sum(f[:8]) - idle, sum(f[:8])     # guest time is already counted in user
    b0, t0 = sample()
    time.sleep(seconds)
    b1, t1 = sample()
    return (b1 - b0) / max(1, t1 - t0)


def wait_for_foreign_vmms(limit_s):
    """Waits up to limit_s seconds for other VMMs/JVMs to go away; returns the ones still running."""
    deadline = time.monotonic() + limit_s
    others = foreign_vmms()
    while others and time.monotonic() < deadline:
        time.sleep(1.0)
        others = foreign_vmms()
    return others


def is_vcpu_thread(name):
    """Ferry's 'vcpu-N' threads, QEMU's 'CPU N/KVM' (QEMU names them with -name debug-threads=on)."""
    return name.startswith("vcpu-") or (name.startswith("CPU ") and name.endswith("/KVM"))


def thread_cpu_ticks(pid):
    """(all threads, vCPU threads) user+system CPU of a process, in clock ticks (/proc/PID/task/*/stat)."""
    total = vcpus = 0
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            st = (t / "stat").read_text()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        f = st[st.rindex(")") + 2:].split()
        ticks = int(f[11]) + int(f[12])
        total += ticks
        if is_vcpu_thread(name):
            vcpus += ticks
    return total, vcpus


def vmm_thread_cpu_ms(pid):
    """CPU time (ms) of a VMM process's threads other than its vCPUs (Ferry 'vcpu-N', QEMU 'CPU N/KVM')."""
    total, vcpus = thread_cpu_ticks(pid)
    return (total - vcpus) * 1000 / os.sysconf("SC_CLK_TCK")


def wait_settled(pids, window_s=0.5, quiet_ms=20, limit_s=20):
    """
    Waits until the VMM processes' own threads (vCPUs aside) are quiet: at most quiet_ms of CPU
    together over window_s. A VMM that has just started is still compiling or warming up; a
    guest migrated in production has been running for a while. Returns the seconds waited.
    """
    start = time.monotonic()
    last = sum(vmm_thread_cpu_ms(p) for p in pids)
    while time.monotonic() - start < limit_s:
        time.sleep(window_s)
        now = sum(vmm_thread_cpu_ms(p) for p in pids)
        if now - last <= quiet_ms:
            break
        last = now
    return time.monotonic() - start


def jar_stamp(target_dir):
    """(name, size, mtime) of the jar and its libraries: a rebuild during the run changes it."""
    files = [target_dir / "ferry.jar", target_dir / "ferry.jsa", *sorted((target_dir / "lib").glob("*.jar"))]
    return [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.exists()]


def make_snapshot(tmp, timeout, tag):
    """ferry.jar and lib/ copied into tmp with a fresh AppCDS archive, trained by the launcher's
    own training command: what ./ferry would run, immune to rebuilds during the run."""
    snap = Path(tmp) / "target"
    for _ in range(5):
        shutil.rmtree(snap, ignore_errors=True)
        (snap / "lib").mkdir(parents=True)
        before = jar_stamp(TARGET)
        shutil.copy2(JAR, snap / "ferry.jar")
        for f in (TARGET / "lib").glob("*.jar"):
            shutil.copy2(f, snap / "lib" / f.name)
        if jar_stamp(TARGET) == before:
            break
        time.sleep(2)
    else:
        raise BenchError("vmm/target keeps changing (a build is running?); cannot snapshot it")
    for jar in [snap / "ferry.jar", *(snap / "lib").glob("*.jar")]:
        with zipfile.ZipFile(jar) as z:
            if z.testzip() is not None:
                raise BenchError(f"snapshot of {jar.name} is corrupt")
    _, training = launcher_java_command([], snap)
    if not training:
        raise BenchError(f"no CDS training command (-XX:ArchiveClassesAtExit) in {LAUNCHER}")
    log(f"{tag}: private snapshot {snap}; training its CDS archive: {shlex.join(training)}")
    proc = None
    try:
        proc = spawn(training, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc.wait(timeout=max(timeout, 60))
    except subprocess.TimeoutExpired:
        raise BenchError("the CDS training run timed out")
    finally:
        stop(proc)
    if not (snap / "ferry.jsa").exists():
        raise BenchError("the CDS training run made no archive")
    return snap
