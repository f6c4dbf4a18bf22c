package dev.ferry.vmm.machine;

import dev.ferry.vmm.hypervisor.Vcpu;

import java.util.List;
import java.util.function.Supplier;

/**
 * Auto-converge's CPU throttle (QEMU's cpu_throttle_set, softmmu/cpu-throttle.c): in every
 * 10 ms of guest run time the vCPUs are also held for {@code 10 ms × p / (100 - p)}, so at p%
 * they run (100 - p)% of the wall time and dirty memory that much slower.
 */
final class VcpuThrottle implements Runnable {

    static final long TIMESLICE_NANOS = 10_000_000L;

    /** The current machine's vCPUs and their control (a reset replaces both). */
    record Target(VcpuControl control, List<Vcpu> vcpus) {}

    private final Supplier<Target> target;
    private volatile int percent;
    private Thread thread;

    VcpuThrottle(Supplier<Target> target) {
        this.target = target;
    }

    int percent() {
        return percent;
    }

    synchronized void set(int p) {
        percent = Math.max(0, Math.min(99, p));
        if (percent > 0 && (thread == null || !thread.isAlive())) {
            thread = new Thread(this, "vcpu-throttle");
            thread.setDaemon(true);
            thread.start();
        }
    }

    @Override
    public void run() {
        try {
            while (true) {
                int p = percent;
                if (p == 0) {
                    return;
                }
                Target t = target.get();
                if (t == null) {
                    Thread.sleep(TIMESLICE_NANOS / 1_000_000);
                    continue;
                }
                long held = TIMESLICE_NANOS * p / (100 - p);
                t.control().hold(true);
                try {
                    t.vcpus().forEach(Vcpu::requestExit);
                    Thread.sleep(held / 1_000_000, (int) (held % 1_000_000));
                } finally {
                    t.control().hold(false);
                }
                Thread.sleep(TIMESLICE_NANOS / 1_000_000);
            }
        } catch (InterruptedException e) {
            Target t = target.get();
            if (t != null) {
                t.control().hold(false);
            }
        }
    }
}
