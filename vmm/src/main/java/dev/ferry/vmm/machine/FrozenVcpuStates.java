package dev.ferry.vmm.machine;

import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.hypervisor.VcpuState;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The vCPU states of one migration freeze. Each vCPU thread saves its own state as it parks, so
 * the saves (about a millisecond of ioctls per vCPU on kvm-pvm) run in parallel with each other
 * and with the migration thread, which meanwhile fetches the dirty log and sends the last pages.
 * A vCPU that was already parked when the freeze began (a paused guest) never passes that point;
 * the migration thread saves it itself when it collects. Each state is saved exactly once,
 * by whoever claims it first.
 */
final class FrozenVcpuStates {

    private final boolean[] claimed;
    private final List<CompletableFuture<VcpuState>> states = new ArrayList<>();

    FrozenVcpuStates(int vcpus) {
        claimed = new boolean[vcpus];
        for (int i = 0; i < vcpus; i++) {
            states.add(new CompletableFuture<>());
        }
    }

    /** Whether the caller is the one to save vCPU {@code index} (true once per index). */
    synchronized boolean claim(int index) {
        if (index < 0 || index >= claimed.length || claimed[index]) {
            return false;
        }
        claimed[index] = true;
        return true;
    }

    /** Saves vCPU {@code vcpu}, claimed by the caller; a failure is kept for {@link #collect}. */
    void save(Vcpu vcpu) {
        try {
            states.get(vcpu.id()).complete(vcpu.saveState());
        } catch (RuntimeException e) {
            states.get(vcpu.id()).completeExceptionally(e);
        }
    }

    /**
     * Every vCPU's state, in vCPU order: saves the ones nobody claimed, waits (at most
     * {@code timeoutMillis}) for the others. Throws if a save failed.
     */
    List<VcpuState> collect(List<Vcpu> vcpus, long timeoutMillis) throws InterruptedException {
        for (Vcpu v : vcpus) {
            if (claim(v.id())) {
                save(v);
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        List<VcpuState> out = new ArrayList<>(vcpus.size());
        for (int i = 0; i < vcpus.size(); i++) {
            try {
                out.add(states.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                throw c instanceof RuntimeException r ? r : new IllegalStateException(c);
            } catch (TimeoutException e) {
                throw new IllegalStateException("vCPU " + i + " did not save its state within " + timeoutMillis
                        + " ms");
            }
        }
        return out;
    }
}
