package dev.ferry.vmm.hypervisor.kvm;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import org.junit.jupiter.api.Test;

import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_cpuid2;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_cpuid_entry2;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_debugregs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_dirty_log;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_dtable;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_irq_level;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_lapic_state;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_mp_state;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_msr_entry;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_msr_list;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_msrs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_pit_config;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_regs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_segment;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_sregs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_userspace_memory_region;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_vcpu_events;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_xcr;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_xcrs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_xsave;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * JNA layouts against the C compiler. Expected sizes and offsets were printed once with
 * {@code sizeof}/{@code offsetof} on /usr/include/linux/kvm.h (kernel 6.1 UAPI headers, gcc 12.2,
 * x86-64). Offsets are checked by writing a field through JNA and reading it back at the C offset.
 */
class KvmAbiTest {

    @Test
    void structureSizesMatchC() {
        assertEquals(32, size(new kvm_userspace_memory_region()));
        assertEquals(144, size(new kvm_regs()));
        assertEquals(312, size(new kvm_sregs()));
        assertEquals(24, size(new kvm_segment()));
        assertEquals(16, size(new kvm_dtable()));
        assertEquals(8, size(new kvm_cpuid2()));
        assertEquals(40, size(new kvm_cpuid_entry2()));
        assertEquals(8, size(new kvm_msrs()));
        assertEquals(16, size(new kvm_msr_entry()));
        assertEquals(4, size(new kvm_mp_state()));
        assertEquals(16, size(new kvm_dirty_log()));
        assertEquals(8, size(new kvm_irq_level()));
        assertEquals(64, size(new kvm_pit_config()));
    }

    @Test
    void vcpuStateStructureSizesMatchC() {
        assertEquals(4, size(new kvm_msr_list()));
        assertEquals(1024, size(new kvm_lapic_state()));
        assertEquals(64, size(new kvm_vcpu_events()));
        assertEquals(128, size(new kvm_debugregs()));
        assertEquals(4096, size(new kvm_xsave()));
        assertEquals(16, size(new kvm_xcr()));
        assertEquals(392, size(new kvm_xcrs()));
    }

    @Test
    void vcpuEventsFieldOffsets() {
        // offsetof: interrupt 8, nmi 12, sipi_vector 16, flags 20, smi 24, triple_fault 28,
        // reserved 29, exception_has_payload 55, exception_payload 56.
        kvm_vcpu_events events = new kvm_vcpu_events();
        events.exception.nr = 14;
        events.exception.error_code = 0x55;
        events.interrupt.nr = 0x20;
        events.nmi.pending = 1;
        events.sipi_vector = 0x9a;
        events.flags = kvm_vcpu_events.KVM_VCPUEVENT_VALID_SHADOW;
        events.smi.latched_init = 1;
        events.triple_fault.pending = 1;
        events.exception_has_payload = 1;
        events.exception_payload = 0x1234_5678_9abcL;
        events.write();
        Pointer p = events.getPointer();
        assertEquals(14, p.getByte(1));
        assertEquals(0x55, p.getInt(4));
        assertEquals(0x20, p.getByte(9));
        assertEquals(1, p.getByte(13));
        assertEquals(0x9a, p.getInt(16));
        assertEquals(4, p.getInt(20));
        assertEquals(1, p.getByte(27));
        assertEquals(1, p.getByte(28));
        assertEquals(1, p.getByte(55));
        assertEquals(0x1234_5678_9abcL, p.getLong(56));
        assertEquals(0x01, kvm_vcpu_events.KVM_VCPUEVENT_VALID_NMI_PENDING);
        assertEquals(0x02, kvm_vcpu_events.KVM_VCPUEVENT_VALID_SIPI_VECTOR);
        assertEquals(0x08, kvm_vcpu_events.KVM_VCPUEVENT_VALID_SMM);
        assertEquals(0x10, kvm_vcpu_events.KVM_VCPUEVENT_VALID_PAYLOAD);
        assertEquals(0x20, kvm_vcpu_events.KVM_VCPUEVENT_VALID_TRIPLE_FAULT);
    }

    @Test
    void debugRegsAndXcrsFieldOffsets() {
        // kvm_debugregs: db 0, dr6 32, dr7 40, flags 48; kvm_xcrs: nr_xcrs 0, flags 4, xcrs 8
        // (kvm_xcr: xcr 0, value 8), padding 264.
        kvm_debugregs debug = new kvm_debugregs();
        debug.db[3] = 0x3333;
        debug.dr6 = 0xffff0ff0L;
        debug.dr7 = 0x400;
        debug.flags = 7;
        debug.write();
        assertEquals(0x3333, debug.getPointer().getLong(24));
        assertEquals(0xffff0ff0L, debug.getPointer().getLong(32));
        assertEquals(0x400, debug.getPointer().getLong(40));
        assertEquals(7, debug.getPointer().getLong(48));

        kvm_xcrs xcrs = new kvm_xcrs();
        xcrs.nr_xcrs = 2;
        xcrs.xcrs[1].xcr = 1;
        xcrs.xcrs[1].value = 0xe7;
        xcrs.padding[0] = -1;
        xcrs.write();
        assertEquals(2, xcrs.getPointer().getInt(0));
        assertEquals(1, xcrs.getPointer().getInt(8 + 16));
        assertEquals(0xe7, xcrs.getPointer().getLong(8 + 16 + 8));
        assertEquals(-1, xcrs.getPointer().getLong(264));
        assertEquals(16, kvm_xcrs.KVM_MAX_XCRS);
    }

    @Test
    void memoryRegionFieldOffsets() {
        kvm_userspace_memory_region region = new kvm_userspace_memory_region();
        region.slot = 7;
        region.flags = 1;
        region.guest_phys_addr = 0x100000;
        region.memory_size = 0x2000;
        region.userspace_addr = 0x7f0000001000L;
        region.write();
        Pointer p = region.getPointer();
        assertEquals(7, p.getInt(0));
        assertEquals(1, p.getInt(4));
        assertEquals(0x100000, p.getLong(8));
        assertEquals(0x2000, p.getLong(16));
        assertEquals(0x7f0000001000L, p.getLong(24));
    }

    @Test
    void sregsFieldOffsets() {
        kvm_sregs sregs = new kvm_sregs();
        sregs.ds.base = 0x1111;
        sregs.ds.limit = 0xffff;
        sregs.ds.selector = 0x10;
        sregs.ds.type = 3;
        sregs.ds.present = 1;
        sregs.ds.unusable = 1;
        sregs.gdt.base = 0x2222;
        sregs.gdt.limit = 0x27;
        sregs.idt.base = 0x3333;
        sregs.cr0 = 0x11;
        sregs.efer = 0x500;
        sregs.apic_base = 0xfee00900L;
        sregs.interrupt_bitmap[3] = 0x8000000000000000L;
        sregs.write();
        Pointer p = sregs.getPointer();
        // kvm_segment: base 0, limit 8, selector 12, type 14, present 15, unusable 22, padding 23.
        assertEquals(0x1111, p.getLong(24));
        assertEquals(0xffff, p.getInt(24 + 8));
        assertEquals(0x10, p.getShort(24 + 12));
        assertEquals(3, p.getByte(24 + 14));
        assertEquals(1, p.getByte(24 + 15));
        assertEquals(1, p.getByte(24 + 22));
        // gdt 192, idt 208, cr0 224, efer 264, apic_base 272, interrupt_bitmap 280.
        assertEquals(0x2222, p.getLong(192));
        assertEquals(0x27, p.getShort(192 + 8));
        assertEquals(0x3333, p.getLong(208));
        assertEquals(0x11, p.getLong(224));
        assertEquals(0x500, p.getLong(264));
        assertEquals(0xfee00900L, p.getLong(272));
        assertEquals(0x8000000000000000L, p.getLong(280 + 24));
    }

    @Test
    void regsFieldOffsets() {
        kvm_regs regs = new kvm_regs();
        regs.rax = 1;
        regs.r15 = 2;
        regs.rip = 3;
        regs.rflags = 4;
        regs.write();
        Pointer p = regs.getPointer();
        assertEquals(1, p.getLong(0));
        assertEquals(2, p.getLong(15 * 8));
        assertEquals(3, p.getLong(16 * 8));
        assertEquals(4, p.getLong(17 * 8));
    }

    @Test
    void variableLengthEntryOffsets() {
        kvm_cpuid_entry2 cpuid = new kvm_cpuid_entry2();
        cpuid.function = 0x80000001;
        cpuid.index = 2;
        cpuid.flags = 1;
        cpuid.edx = 0x55;
        cpuid.write();
        assertEquals(0x80000001, cpuid.getPointer().getInt(0));
        assertEquals(2, cpuid.getPointer().getInt(4));
        assertEquals(1, cpuid.getPointer().getInt(8));
        assertEquals(0x55, cpuid.getPointer().getInt(24));

        kvm_msr_entry msr = new kvm_msr_entry();
        msr.index = 0xc0000080;
        msr.data = 0x500;
        msr.write();
        assertEquals(0xc0000080, msr.getPointer().getInt(0));
        assertEquals(0x500, msr.getPointer().getLong(8));
    }

    @Test
    void dirtyLogBitmapPointerAtOffset8() {
        kvm_dirty_log log = new kvm_dirty_log();
        log.slot = 3;
        log.dirty_bitmap = new Pointer(0x1234000);
        log.write();
        assertEquals(3, log.getPointer().getInt(0));
        assertEquals(0x1234000, log.getPointer().getLong(8));
    }

    @Test
    void kvmRunOffsetsMatchC() {
        // offsetof(struct kvm_run, ...) from gcc.
        assertEquals(1, KvmRun.IMMEDIATE_EXIT);
        assertEquals(8, KvmRun.EXIT_REASON);
        assertEquals(12, KvmRun.READY_FOR_INTERRUPT_INJECTION);
        assertEquals(13, KvmRun.IF_FLAG);
        assertEquals(14, KvmRun.FLAGS);
        assertEquals(16, KvmRun.CR8);
        assertEquals(24, KvmRun.APIC_BASE);
        assertEquals(32, KvmRun.FAIL_ENTRY_HARDWARE_ENTRY_FAILURE_REASON);
        assertEquals(40, KvmRun.FAIL_ENTRY_CPU);
        assertEquals(32, KvmRun.IO_DIRECTION);
        assertEquals(33, KvmRun.IO_SIZE);
        assertEquals(34, KvmRun.IO_PORT);
        assertEquals(36, KvmRun.IO_COUNT);
        assertEquals(40, KvmRun.IO_DATA_OFFSET);
        assertEquals(32, KvmRun.MMIO_PHYS_ADDR);
        assertEquals(40, KvmRun.MMIO_DATA);
        assertEquals(48, KvmRun.MMIO_LEN);
        assertEquals(52, KvmRun.MMIO_IS_WRITE);
        assertEquals(32, KvmRun.HYPERCALL_NR);
        assertEquals(40, KvmRun.HYPERCALL_ARGS);
        assertEquals(88, KvmRun.HYPERCALL_RET);
        assertEquals(96, KvmRun.HYPERCALL_LONGMODE);
        assertEquals(32, KvmRun.INTERNAL_SUBERROR);
        assertEquals(36, KvmRun.INTERNAL_NDATA);
        assertEquals(40, KvmRun.INTERNAL_DATA);
        assertEquals(32, KvmRun.SYSTEM_EVENT_TYPE);
        assertEquals(36, KvmRun.SYSTEM_EVENT_NDATA);
        assertEquals(40, KvmRun.SYSTEM_EVENT_DATA);
        assertEquals(2352, KvmRun.STRUCT_SIZE);
    }

    @Test
    void exitReasonsMatchC() {
        assertEquals(0, KvmRun.KVM_EXIT_UNKNOWN);
        assertEquals(2, KvmRun.KVM_EXIT_IO);
        assertEquals(3, KvmRun.KVM_EXIT_HYPERCALL);
        assertEquals(5, KvmRun.KVM_EXIT_HLT);
        assertEquals(6, KvmRun.KVM_EXIT_MMIO);
        assertEquals(8, KvmRun.KVM_EXIT_SHUTDOWN);
        assertEquals(9, KvmRun.KVM_EXIT_FAIL_ENTRY);
        assertEquals(10, KvmRun.KVM_EXIT_INTR);
        assertEquals(17, KvmRun.KVM_EXIT_INTERNAL_ERROR);
        assertEquals(24, KvmRun.KVM_EXIT_SYSTEM_EVENT);
    }

    @Test
    void flagsAndCapabilitiesMatchC() {
        assertEquals(1, kvm_userspace_memory_region.KVM_MEM_LOG_DIRTY_PAGES);
        assertEquals(1, kvm_pit_config.KVM_PIT_SPEAKER_DUMMY);
        assertEquals(0, KvmCapability.KVM_CAP_IRQCHIP);
        assertEquals(3, KvmCapability.KVM_CAP_USER_MEMORY);
        assertEquals(4, KvmCapability.KVM_CAP_SET_TSS_ADDR);
        assertEquals(7, KvmCapability.KVM_CAP_EXT_CPUID);
        assertEquals(10, KvmCapability.KVM_CAP_NR_MEMSLOTS);
        assertEquals(14, KvmCapability.KVM_CAP_MP_STATE);
        assertEquals(33, KvmCapability.KVM_CAP_PIT2);
        assertEquals(37, KvmCapability.KVM_CAP_SET_IDENTITY_MAP_ADDR);
        assertEquals(136, KvmCapability.KVM_CAP_IMMEDIATE_EXIT);
        assertEquals(201, KvmCapability.KVM_CAP_EXIT_HYPERCALL);
        assertEquals(41, KvmCapability.KVM_CAP_VCPU_EVENTS);
        assertEquals(50, KvmCapability.KVM_CAP_DEBUGREGS);
        assertEquals(55, KvmCapability.KVM_CAP_XSAVE);
        assertEquals(56, KvmCapability.KVM_CAP_XCRS);
        assertEquals(208, KvmCapability.KVM_CAP_XSAVE2);
        assertEquals("KVM_CAP_PIT2", KvmCapability.name(33));
        assertEquals("KVM capability 9999", KvmCapability.name(9999));
    }

    private static int size(Structure structure) {
        return structure.size();
    }
}
