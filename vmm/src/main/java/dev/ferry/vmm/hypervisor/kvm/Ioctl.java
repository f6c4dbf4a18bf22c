package dev.ferry.vmm.hypervisor.kvm;

import com.sun.jna.Structure;

import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_cpuid2;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_debugregs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_dirty_log;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_irq_level;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_lapic_state;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_mp_state;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_msr_list;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_msrs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_pit_config;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_regs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_sregs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_userspace_memory_region;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_vcpu_events;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_xcrs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_xsave;

/**
 * ioctl request numbers, encoded as include/uapi/asm-generic/ioctl.h does: direction in bits
 * 30-31, argument size in bits 16-29, type in bits 8-15, number in bits 0-7. The KVM numbers are
 * those of include/uapi/linux/kvm.h, computed from the sizes of the JNA structures so that a wrong
 * structure layout shows up as a wrong (rejected) request rather than as memory corruption.
 */
final class Ioctl {
    static final int IOC_NONE = 0;
    static final int IOC_WRITE = 1;
    static final int IOC_READ = 2;

    private static final int NRBITS = 8;
    private static final int TYPEBITS = 8;
    private static final int SIZEBITS = 14;
    private static final int NRSHIFT = 0;
    private static final int TYPESHIFT = NRSHIFT + NRBITS;
    private static final int SIZESHIFT = TYPESHIFT + TYPEBITS;
    private static final int DIRSHIFT = SIZESHIFT + SIZEBITS;

    /** The ioctl type of every KVM request. */
    static final int KVMIO = 0xAE;

    // System ioctls (on the /dev/kvm fd).
    static final long KVM_GET_API_VERSION = io(KVMIO, 0x00);
    static final long KVM_CREATE_VM = io(KVMIO, 0x01);
    static final long KVM_GET_MSR_INDEX_LIST = iowr(KVMIO, 0x02, sizeOf(new kvm_msr_list()));
    static final long KVM_CHECK_EXTENSION = io(KVMIO, 0x03);
    static final long KVM_GET_VCPU_MMAP_SIZE = io(KVMIO, 0x04);
    static final long KVM_GET_SUPPORTED_CPUID = iowr(KVMIO, 0x05, sizeOf(new kvm_cpuid2()));

    // VM ioctls.
    static final long KVM_CREATE_VCPU = io(KVMIO, 0x41);
    static final long KVM_GET_DIRTY_LOG = iow(KVMIO, 0x42, sizeOf(new kvm_dirty_log()));
    static final long KVM_SET_USER_MEMORY_REGION = iow(KVMIO, 0x46, sizeOf(new kvm_userspace_memory_region()));
    static final long KVM_SET_TSS_ADDR = io(KVMIO, 0x47);
    static final long KVM_SET_IDENTITY_MAP_ADDR = iow(KVMIO, 0x48, Long.BYTES);
    static final long KVM_CREATE_IRQCHIP = io(KVMIO, 0x60);
    static final long KVM_IRQ_LINE = iow(KVMIO, 0x61, sizeOf(new kvm_irq_level()));
    static final long KVM_CREATE_PIT2 = iow(KVMIO, 0x77, sizeOf(new kvm_pit_config()));

    // vCPU ioctls.
    static final long KVM_RUN = io(KVMIO, 0x80);
    static final long KVM_GET_REGS = ior(KVMIO, 0x81, sizeOf(new kvm_regs()));
    static final long KVM_SET_REGS = iow(KVMIO, 0x82, sizeOf(new kvm_regs()));
    static final long KVM_GET_SREGS = ior(KVMIO, 0x83, sizeOf(new kvm_sregs()));
    static final long KVM_SET_SREGS = iow(KVMIO, 0x84, sizeOf(new kvm_sregs()));
    static final long KVM_GET_MSRS = iowr(KVMIO, 0x88, sizeOf(new kvm_msrs()));
    static final long KVM_SET_MSRS = iow(KVMIO, 0x89, sizeOf(new kvm_msrs()));
    static final long KVM_GET_LAPIC = ior(KVMIO, 0x8e, sizeOf(new kvm_lapic_state()));
    static final long KVM_SET_LAPIC = iow(KVMIO, 0x8f, sizeOf(new kvm_lapic_state()));
    static final long KVM_SET_CPUID2 = iow(KVMIO, 0x90, sizeOf(new kvm_cpuid2()));
    static final long KVM_GET_MP_STATE = ior(KVMIO, 0x98, sizeOf(new kvm_mp_state()));
    static final long KVM_SET_MP_STATE = iow(KVMIO, 0x99, sizeOf(new kvm_mp_state()));
    static final long KVM_GET_VCPU_EVENTS = ior(KVMIO, 0x9f, sizeOf(new kvm_vcpu_events()));
    static final long KVM_SET_VCPU_EVENTS = iow(KVMIO, 0xa0, sizeOf(new kvm_vcpu_events()));
    static final long KVM_GET_DEBUGREGS = ior(KVMIO, 0xa1, sizeOf(new kvm_debugregs()));
    static final long KVM_SET_DEBUGREGS = iow(KVMIO, 0xa2, sizeOf(new kvm_debugregs()));
    static final long KVM_GET_XSAVE = ior(KVMIO, 0xa4, sizeOf(new kvm_xsave()));
    static final long KVM_SET_XSAVE = iow(KVMIO, 0xa5, sizeOf(new kvm_xsave()));
    static final long KVM_GET_XCRS = ior(KVMIO, 0xa6, sizeOf(new kvm_xcrs()));
    static final long KVM_SET_XCRS = iow(KVMIO, 0xa7, sizeOf(new kvm_xcrs()));
    /** Encodes the 4096 bytes of the fixed struct; KVM copies as many as KVM_CAP_XSAVE2 says. */
    static final long KVM_GET_XSAVE2 = ior(KVMIO, 0xcf, sizeOf(new kvm_xsave()));

    private Ioctl() {}

    /** _IOC(dir, type, nr, size). */
    static long ioc(int dir, int type, int nr, int size) {
        if (dir < 0 || dir > 3 || type < 0 || type > 0xff || nr < 0 || nr > 0xff
                || size < 0 || size >= 1 << SIZEBITS) {
            throw new IllegalArgumentException("bad ioctl encoding: dir=" + dir + " type=0x" + Integer.toHexString(type)
                    + " nr=0x" + Integer.toHexString(nr) + " size=" + size);
        }
        // long arithmetic: the request is an unsigned long in C and must not sign-extend.
        return ((long) dir << DIRSHIFT) | ((long) size << SIZESHIFT) | ((long) type << TYPESHIFT) | ((long) nr << NRSHIFT);
    }

    /** _IO(type, nr): no argument, or an integer argument passed by value. */
    static long io(int type, int nr) {
        return ioc(IOC_NONE, type, nr, 0);
    }

    /** _IOR(type, nr, size): the kernel writes a structure of {@code size} bytes. */
    static long ior(int type, int nr, int size) {
        return ioc(IOC_READ, type, nr, size);
    }

    /** _IOW(type, nr, size): the kernel reads a structure of {@code size} bytes. */
    static long iow(int type, int nr, int size) {
        return ioc(IOC_WRITE, type, nr, size);
    }

    /** _IOWR(type, nr, size): the kernel reads and writes a structure of {@code size} bytes. */
    static long iowr(int type, int nr, int size) {
        return ioc(IOC_READ | IOC_WRITE, type, nr, size);
    }

    /** sizeof(struct): JNA's Native.getNativeSize(Class) would give a pointer's size for a Structure. */
    private static int sizeOf(Structure structure) {
        return structure.size();
    }
}
