package dev.ferry.vmm.machine;

import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.hypervisor.HypervisorException;
import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.hypervisor.VcpuExit;
import dev.ferry.vmm.os.Threads;

import java.util.function.BiConsumer;

/**
 * The loop of one vCPU on its own platform thread (KVM_RUN blocks in the kernel, so a virtual
 * thread would pin its carrier anyway). Exits that need the machine as a whole (shutdown, reset,
 * fatal errors) are reported to the control thread; the vCPU then parks until told to go on.
 */
final class VcpuThread implements Runnable, VcpuControl.Parking {

    private final Vcpu vcpu;
    private final ExitHandler handler;
    private final VcpuControl control;
    private final BiConsumer<Integer, ExitAction> machineEvents;
    private final java.util.function.IntConsumer threadIdSink;

    VcpuThread(Vcpu vcpu, ExitHandler handler, VcpuControl control, BiConsumer<Integer, ExitAction> machineEvents,
               java.util.function.IntConsumer threadIdSink) {
        this.vcpu = vcpu;
        this.handler = handler;
        this.control = control;
        this.machineEvents = machineEvents;
        this.threadIdSink = threadIdSink;
    }

    /** The last exit was handled, but KVM completes its operation only at the next KVM_RUN. */
    private boolean exitPending;
    /** Bounds the follow-up exits one completion may cause (a string I/O instruction, one per chunk). */
    private static final int MAX_COMPLETION_EXITS = 64;

    @Override
    public Vcpu vcpu() {
        return vcpu;
    }

    /**
     * KVM_RUN with immediate_exit set: KVM completes the pending operation, then returns EINTR
     * without running guest code (api.rst, "immediate_exit"). Completing one chunk of a string
     * I/O instruction can exit again for the next chunk; those exits are handled as usual.
     */
    @Override
    public void completePendingExit() {
        for (int i = 0; exitPending && i < MAX_COMPLETION_EXITS; i++) {
            vcpu.requestExit();
            ExitAction action = handler.handle(vcpu.id(), vcpu.run());
            if (!(action instanceof ExitAction.Continue)) {
                exitPending = false;
                if (!(action instanceof ExitAction.Interrupted)) {
                    machineEvents.accept(vcpu.id(), action);
                }
            }
        }
        vcpu.clearExitRequest();
    }

    Thread start() {
        Thread t = new Thread(this, "vcpu-" + vcpu.id());
        t.setDaemon(true);
        t.start();
        return t;
    }

    @Override
    public void run() {
        try {
            vcpu.bindToCurrentThread();
            int tid = Threads.currentTid();
            control.threadStarted(vcpu.id(), tid);
            threadIdSink.accept(tid);
            while (control.awaitRun(this)) {
                VcpuExit exit = vcpu.run();
                ExitAction action = handler.handle(vcpu.id(), exit);
                if (action instanceof ExitAction.Continue) {
                    exitPending = true;
                    continue;
                }
                exitPending = false;
                if (action instanceof ExitAction.Interrupted) {
                    vcpu.clearExitRequest();
                    continue;
                }
                // Anything else stops this vCPU until the machine decides; the control thread
                // stops the others.
                vcpu.clearExitRequest();
                machineEvents.accept(vcpu.id(), action);
                control.awaitStopRequested();
            }
        } catch (HypervisorException e) {
            machineEvents.accept(vcpu.id(), new ExitAction.Fatal("vCPU " + vcpu.id() + ": " + e.getMessage()));
        } catch (RuntimeException e) {
            Log.error("vCPU " + vcpu.id() + " thread failed: " + e);
            machineEvents.accept(vcpu.id(), new ExitAction.Fatal("vCPU " + vcpu.id() + ": " + e));
        } finally {
            control.exited(vcpu.id());
        }
    }
}
