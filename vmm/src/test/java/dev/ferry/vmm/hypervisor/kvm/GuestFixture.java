package dev.ferry.vmm.hypervisor.kvm;

import dev.ferry.vmm.os.HostMapping;
import dev.ferry.vmm.os.Memfd;
import dev.ferry.vmm.testing.RealMode;

import java.nio.ByteBuffer;

/**
 * One VM with one RAM slot (a memfd) and one vCPU, closed in reverse order of creation. Tests
 * open it in try-with-resources so a failing assertion still tears the guest down.
 */
final class GuestFixture implements AutoCloseable {
    static final int SLOT = 0;

    final Kvm kvm;
    final KvmVm vm;
    final Memfd memfd;
    final HostMapping ram;
    final long ramBase;
    final KvmVcpu vcpu;

    private GuestFixture(Kvm kvm, KvmVm vm, Memfd memfd, HostMapping ram, long ramBase, KvmVcpu vcpu) {
        this.kvm = kvm;
        this.vm = vm;
        this.memfd = memfd;
        this.ram = ram;
        this.ramBase = ramBase;
        this.vcpu = vcpu;
    }

    /** RAM of {@code ramSize} bytes at guest-physical {@code ramBase}, dirty-logged, and vCPU 0. */
    static GuestFixture create(long ramBase, long ramSize) {
        return create(ramBase, ramSize, false);
    }

    /**
     * As {@link #create(long, long)}; with {@code irqchip} the VM gets the in-kernel PIC, IOAPIC,
     * LAPIC and PIT before its vCPU (HLT then waits in the kernel instead of exiting).
     */
    static GuestFixture create(long ramBase, long ramSize, boolean irqchip) {
        Kvm kvm = Kvm.open();
        KvmVm vm = null;
        Memfd memfd = null;
        HostMapping ram = null;
        try {
            vm = kvm.createVirtualMachine();
            memfd = Memfd.create("ferry-test-ram", ramSize);
            ram = HostMapping.map(memfd);
            vm.mapMemory(SLOT, ramBase, ramSize, ram.address(), true);
            if (irqchip) {
                vm.createInterruptController();
            }
            KvmVcpu vcpu = vm.createVcpu(0);
            return new GuestFixture(kvm, vm, memfd, ram, ramBase, vcpu);
        } catch (RuntimeException | Error e) {
            closeQuietly(vm, e);
            closeQuietly(ram, e);
            closeQuietly(memfd, e);
            closeQuietly(kvm, e);
            throw e;
        }
    }

    /** Copies {@code code} into RAM at guest-physical {@code address}. */
    void load(long address, byte[] code) {
        ByteBuffer view = ram.buffer(address - ramBase, code.length);
        view.put(code);
    }

    /** Real mode with CS base 0 and selector 0, so that IP is the guest-physical address. */
    void enterRealMode(long entry) {
        RealMode.enter(vcpu, entry);
    }

    @Override
    public void close() {
        // The VM closes its vCPU; the RAM must stay mapped until the VM is gone.
        vm.close();
        ram.close();
        memfd.close();
        kvm.close();
    }

    private static void closeQuietly(AutoCloseable resource, Throwable primary) {
        if (resource == null) {
            return;
        }
        try {
            resource.close();
        } catch (Exception e) {
            primary.addSuppressed(e);
        }
    }
}
