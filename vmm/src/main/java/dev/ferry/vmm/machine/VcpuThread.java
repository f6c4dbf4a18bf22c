package dev.ferry.vmm.machine;

import dev.ferry.vmm.Log;
import dev.ferry.vmm.hypervisor.HypervisorException;
import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.hypervisor.VcpuExit;

import java.util.function.BiConsumer;

/**
 * The loop of one vCPU on its own platform thread (KVM_RUN blocks in the kernel, so a virtual
 * thread would pin its carrier anyway). Exits that need the machine as a whole (shutdown, reset,
 * fatal errors) are reported to the control thread; the vCPU then parks until told to go on.
 */
final class VcpuThread implements Runnable {

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
            threadIdSink.accept(dev.ferry.vmm.os.Threads.currentTid());
            while (control.awaitRun()) {
                VcpuExit exit = vcpu.run();
                ExitAction action = handler.handle(vcpu.id(), exit);
                if (action instanceof ExitAction.Continue) {
                    continue;
                }
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
            control.exited();
        }
    }
}
