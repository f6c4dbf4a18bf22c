package dev.ferry.vmm.hypervisor.kvm;

import dev.ferry.vmm.hypervisor.HypervisorException;
import dev.ferry.vmm.os.Errno;
import dev.ferry.vmm.os.HostMapping;
import dev.ferry.vmm.os.Memfd;
import dev.ferry.vmm.testing.KvmAvailability;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** VM-level ioctls, and the messages of the ones that fail. */
@Tag("kvm")
class KvmVmTest {
    private Kvm kvm;
    private KvmVm vm;
    private Memfd memfd;
    private HostMapping ram;

    @BeforeEach
    void createVm() {
        KvmAvailability.assumeKvm();
        kvm = Kvm.open();
        vm = kvm.createVirtualMachine();
        memfd = Memfd.create("ferry-vm-test", 0x4000);
        ram = HostMapping.map(memfd);
    }

    @AfterEach
    void closeVm() {
        if (vm != null) {
            vm.close();
        }
        if (ram != null) {
            ram.close();
        }
        if (memfd != null) {
            memfd.close();
        }
        if (kvm != null) {
            kvm.close();
        }
    }

    @Test
    void overlappingSlotNamesTheCallItsArgumentsAndErrno() {
        vm.mapMemory(0, 0x100000, 0x2000, ram.address(), false);
        HypervisorException e = assertThrows(HypervisorException.class,
                () -> vm.mapMemory(1, 0x101000, 0x1000, ram.address() + 0x2000, true));
        assertTrue(e.getMessage().startsWith("KVM_SET_USER_MEMORY_REGION(slot=1, gpa=0x101000, size=0x1000, hva=0x"),
                e.getMessage());
        assertTrue(e.getMessage().contains(", LOG_DIRTY_PAGES) failed: EEXIST"), e.getMessage());
        assertEquals(Errno.EEXIST, e.errno());
    }

    @Test
    void slotBeyondTheLimitIsEinval() {
        int beyond = kvm.checkExtension(KvmCapability.KVM_CAP_NR_MEMSLOTS) + 1;
        HypervisorException e = assertThrows(HypervisorException.class,
                () -> vm.mapMemory(beyond, 0x100000, 0x1000, ram.address(), false));
        assertTrue(e.getMessage().startsWith("KVM_SET_USER_MEMORY_REGION(slot=" + beyond + ", gpa=0x100000"),
                e.getMessage());
        assertTrue(e.getMessage().contains("failed: EINVAL"), e.getMessage());
        assertEquals(Errno.EINVAL, e.errno());
    }

    @Test
    void unalignedGuestAddressIsEinval() {
        HypervisorException e = assertThrows(HypervisorException.class,
                () -> vm.mapMemory(0, 0x100800, 0x1000, ram.address(), false));
        assertEquals(Errno.EINVAL, e.errno());
    }

    @Test
    void slotsCanBeRemovedAndMappedAgain() {
        vm.mapMemory(2, 0x200000, 0x4000, ram.address(), true);
        assertArrayEquals(new long[] {0}, vm.fetchDirtyLog(2, 0x4000));
        vm.unmapMemory(2);
        HypervisorException gone = assertThrows(HypervisorException.class, () -> vm.fetchDirtyLog(2, 0x4000));
        assertTrue(gone.getMessage().startsWith("KVM_GET_DIRTY_LOG(slot=2, size=0x4000) failed: "), gone.getMessage());
        vm.mapMemory(2, 0x300000, 0x4000, ram.address(), false);
    }

    @Test
    void dirtyLogSizeMustMatchTheSlot() {
        // KVM would write a 4-page bitmap whatever size we claim; a wrong size must not reach it.
        vm.mapMemory(0, 0x100000, 0x4000, ram.address(), true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> vm.fetchDirtyLog(0, 0x1000));
        assertEquals("dirty log of slot 0 requested for 0x1000 bytes, but the slot has 0x4000", e.getMessage());
    }

    @Test
    void dirtyLogOfASlotWithoutLoggingIsRefused() {
        vm.mapMemory(0, 0x100000, 0x4000, ram.address(), false);
        HypervisorException e = assertThrows(HypervisorException.class, () -> vm.fetchDirtyLog(0, 0x4000));
        assertEquals(Errno.ENOENT, e.errno(), e.getMessage());
    }

    @Test
    void interruptControllerAndPit() {
        vm.createInterruptController();
        vm.setIrqLine(4, true);
        vm.setIrqLine(4, false);
        KvmVcpu vcpu = vm.createVcpu(0);
        assertEquals(0, vcpu.id());
        HypervisorException twice = assertThrows(HypervisorException.class, vm::createInterruptController);
        assertTrue(twice.getMessage().startsWith("KVM_CREATE_IRQCHIP failed: "), twice.getMessage());
    }

    @Test
    void duplicateVcpuIdIsEexist() {
        vm.createVcpu(0);
        HypervisorException e = assertThrows(HypervisorException.class, () -> vm.createVcpu(0));
        assertTrue(e.getMessage().startsWith("KVM_CREATE_VCPU(id=0) failed: EEXIST"), e.getMessage());
    }
}
