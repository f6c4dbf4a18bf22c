package dev.ferry.vmm.hypervisor.kvm;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The computed request numbers against the values the C compiler gives for the macros of
 * /usr/include/linux/kvm.h (linux-libc-dev, kernel 6.1 headers, Debian 12), printed once with
 * {@code printf("%lx", (unsigned long) KVM_...)} by gcc 12.2 on x86-64.
 */
class IoctlTest {

    @Test
    void systemIoctls() {
        assertEquals(0xae00L, Ioctl.KVM_GET_API_VERSION);
        assertEquals(0xae01L, Ioctl.KVM_CREATE_VM);
        assertEquals(0xae03L, Ioctl.KVM_CHECK_EXTENSION);
        assertEquals(0xae04L, Ioctl.KVM_GET_VCPU_MMAP_SIZE);
        assertEquals(0xc008ae05L, Ioctl.KVM_GET_SUPPORTED_CPUID);
        assertEquals(0xc004ae02L, Ioctl.KVM_GET_MSR_INDEX_LIST);
    }

    @Test
    void vmIoctls() {
        assertEquals(0xae41L, Ioctl.KVM_CREATE_VCPU);
        assertEquals(0x4010ae42L, Ioctl.KVM_GET_DIRTY_LOG);
        assertEquals(0x4020ae46L, Ioctl.KVM_SET_USER_MEMORY_REGION);
        assertEquals(0xae47L, Ioctl.KVM_SET_TSS_ADDR);
        assertEquals(0x4008ae48L, Ioctl.KVM_SET_IDENTITY_MAP_ADDR);
        assertEquals(0xae60L, Ioctl.KVM_CREATE_IRQCHIP);
        assertEquals(0x4008ae61L, Ioctl.KVM_IRQ_LINE);
        assertEquals(0x4040ae77L, Ioctl.KVM_CREATE_PIT2);
    }

    @Test
    void vcpuIoctls() {
        assertEquals(0xae80L, Ioctl.KVM_RUN);
        assertEquals(0x8090ae81L, Ioctl.KVM_GET_REGS);
        assertEquals(0x4090ae82L, Ioctl.KVM_SET_REGS);
        assertEquals(0x8138ae83L, Ioctl.KVM_GET_SREGS);
        assertEquals(0x4138ae84L, Ioctl.KVM_SET_SREGS);
        assertEquals(0xc008ae88L, Ioctl.KVM_GET_MSRS);
        assertEquals(0x4008ae89L, Ioctl.KVM_SET_MSRS);
        assertEquals(0x4008ae90L, Ioctl.KVM_SET_CPUID2);
        assertEquals(0x8004ae98L, Ioctl.KVM_GET_MP_STATE);
        assertEquals(0x4004ae99L, Ioctl.KVM_SET_MP_STATE);
    }

    @Test
    void vcpuStateIoctls() {
        // Same headers and compiler as above, printed for the vCPU state save/restore ioctls.
        assertEquals(0x8400ae8eL, Ioctl.KVM_GET_LAPIC);
        assertEquals(0x4400ae8fL, Ioctl.KVM_SET_LAPIC);
        assertEquals(0x8040ae9fL, Ioctl.KVM_GET_VCPU_EVENTS);
        assertEquals(0x4040aea0L, Ioctl.KVM_SET_VCPU_EVENTS);
        assertEquals(0x8080aea1L, Ioctl.KVM_GET_DEBUGREGS);
        assertEquals(0x4080aea2L, Ioctl.KVM_SET_DEBUGREGS);
        assertEquals(0x9000aea4L, Ioctl.KVM_GET_XSAVE);
        assertEquals(0x5000aea5L, Ioctl.KVM_SET_XSAVE);
        assertEquals(0x9000aecfL, Ioctl.KVM_GET_XSAVE2);
        assertEquals(0x8188aea6L, Ioctl.KVM_GET_XCRS);
        assertEquals(0x4188aea7L, Ioctl.KVM_SET_XCRS);
    }

    @Test
    void requestIsAnUnsignedValueNotASignExtendedInt() {
        // _IOR sets bit 31; as a C unsigned long the request is 0x8090ae81, not 0xffffffff8090ae81.
        assertEquals(0L, Ioctl.KVM_GET_REGS >>> 32);
    }

    @Test
    void rejectsFieldsThatDoNotFit() {
        assertThrows(IllegalArgumentException.class, () -> Ioctl.ior(Ioctl.KVMIO, 0x81, 1 << 14));
        assertThrows(IllegalArgumentException.class, () -> Ioctl.io(Ioctl.KVMIO, 0x100));
        assertThrows(IllegalArgumentException.class, () -> Ioctl.io(0x100, 0));
    }
}
