package dev.ferry.vmm.hypervisor.kvm;

import com.sun.jna.Memory;
import dev.ferry.vmm.hypervisor.VirtualMachine;
import dev.ferry.vmm.os.LibC;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_dirty_log;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_irq_level;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_pit_config;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_userspace_memory_region;
import static dev.ferry.vmm.hypervisor.kvm.KvmCalls.hex;
import static dev.ferry.vmm.hypervisor.kvm.KvmCalls.lastError;

/**
 * A KVM VM fd (api.rst section 4, "vm ioctls"): memory slots, dirty logging, the in-kernel
 * interrupt controllers and PIT, and vCPU creation.
 *
 * <p>On creation it places the pages that Intel hosts need to run real-mode guests (api.rst,
 * KVM_SET_TSS_ADDR and KVM_SET_IDENTITY_MAP_ADDR): the EPT identity-map page at
 * {@value #IDENTITY_MAP_ADDRESS} and the three-page TSS right after it, i.e. the 16 KiB just below
 * the top-of-4-GiB BIOS window. This is QEMU's original layout (target/i386/kvm.c,
 * kvm_arch_init, which reserves the range in the e820 map); newer QEMU moves it to 0xfeffc000
 * to make room for BIOS images larger than 256 KiB, which Ferry does not load. The machine's
 * memory map must keep [{@code IDENTITY_MAP_ADDRESS}, {@code IDENTITY_MAP_ADDRESS + RESERVED_SIZE})
 * free of RAM and devices and report it as reserved.
 */
public final class KvmVm implements VirtualMachine {
    /** Guest-physical address of the EPT identity-map page (KVM_SET_IDENTITY_MAP_ADDR). */
    public static final long IDENTITY_MAP_ADDRESS = 0xfffbc000L;
    /** Guest-physical address of the real-mode TSS (KVM_SET_TSS_ADDR), three pages long. */
    public static final long TSS_ADDRESS = IDENTITY_MAP_ADDRESS + 0x1000;
    /** Bytes from {@link #IDENTITY_MAP_ADDRESS} that belong to KVM: the identity page and the TSS. */
    public static final long RESERVED_SIZE = 0x4000;

    private static final long PAGE_SIZE = 4096;

    private final Kvm kvm;
    private final int fd;
    private final List<KvmVcpu> vcpus = new ArrayList<>();
    /** Size of every slot mapped through this object: KVM sizes the dirty bitmap it writes by it. */
    private final Map<Integer, Long> slotSizes = new ConcurrentHashMap<>();
    private boolean closed;

    KvmVm(Kvm kvm, int fd) {
        this.kvm = kvm;
        this.fd = fd;
        try {
            // Must precede KVM_CREATE_VCPU (api.rst, KVM_SET_IDENTITY_MAP_ADDR). A host without
            // the capability (not VMX) has no use for the page.
            if (checkExtension(KvmCapability.KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
                Memory address = new Memory(Long.BYTES);
                address.setLong(0, IDENTITY_MAP_ADDRESS);
                if (LibC.ioctl(fd, Ioctl.KVM_SET_IDENTITY_MAP_ADDR, address) < 0) {
                    throw lastError("KVM_SET_IDENTITY_MAP_ADDR(" + hex(IDENTITY_MAP_ADDRESS) + ")");
                }
            }
            if (LibC.ioctl(fd, Ioctl.KVM_SET_TSS_ADDR, TSS_ADDRESS) < 0) {
                throw lastError("KVM_SET_TSS_ADDR(" + hex(TSS_ADDRESS) + ")");
            }
        } catch (RuntimeException e) {
            LibC.close(fd);
            throw e;
        }
    }

    /** The /dev/kvm this VM was created on. */
    Kvm kvm() {
        return kvm;
    }

    /** The VM fd, for ioctls this class does not wrap yet. */
    public int fd() {
        return fd;
    }

    /**
     * KVM_CHECK_EXTENSION on the VM fd: like {@link Kvm#checkExtension(int)} but for this VM
     * (some answers depend on the VM type or on capabilities already enabled).
     */
    public int checkExtension(int capability) {
        return Kvm.checkExtension(fd, capability);
    }

    @Override
    public void mapMemory(int slot, long guestPhysicalAddress, long size, long hostAddress, boolean logDirty) {
        if (size <= 0) {
            throw new IllegalArgumentException("memory slot " + slot + " needs a positive size, got " + size
                    + " (use unmapMemory to delete a slot)");
        }
        setUserMemoryRegion(slot, logDirty ? kvm_userspace_memory_region.KVM_MEM_LOG_DIRTY_PAGES : 0,
                guestPhysicalAddress, size, hostAddress);
        slotSizes.put(slot, size);
    }

    @Override
    public void unmapMemory(int slot) {
        // api.rst, KVM_SET_USER_MEMORY_REGION: a memory_size of 0 deletes the slot.
        setUserMemoryRegion(slot, 0, 0, 0, 0);
        slotSizes.remove(slot);
    }

    private void setUserMemoryRegion(int slot, int flags, long guestPhysicalAddress, long size, long hostAddress) {
        kvm_userspace_memory_region region = new kvm_userspace_memory_region();
        region.slot = slot;
        region.flags = flags;
        region.guest_phys_addr = guestPhysicalAddress;
        region.memory_size = size;
        region.userspace_addr = hostAddress;
        region.write();
        if (LibC.ioctl(fd, Ioctl.KVM_SET_USER_MEMORY_REGION, region.getPointer()) < 0) {
            throw lastError("KVM_SET_USER_MEMORY_REGION(slot=" + slot + ", gpa=" + hex(guestPhysicalAddress)
                    + ", size=" + hex(size) + ", hva=" + hex(hostAddress)
                    + ((flags & kvm_userspace_memory_region.KVM_MEM_LOG_DIRTY_PAGES) != 0 ? ", LOG_DIRTY_PAGES" : "")
                    + ")");
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>KVM writes a bitmap as large as the slot really is, whatever the caller believes, so a
     * size that disagrees with the slot mapped through {@link #mapMemory} is refused rather than
     * letting the kernel write past the buffer.
     */
    @Override
    public long[] fetchDirtyLog(int slot, long slotSize) {
        Long mapped = slotSizes.get(slot);
        if (mapped != null && mapped != slotSize) {
            throw new IllegalArgumentException("dirty log of slot " + slot + " requested for " + hex(slotSize)
                    + " bytes, but the slot has " + hex(mapped));
        }
        long pages = (slotSize + PAGE_SIZE - 1) / PAGE_SIZE;
        long words = (pages + Long.SIZE - 1) / Long.SIZE;
        if (slotSize <= 0 || words > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("bad slot size " + slotSize + " for the dirty log of slot " + slot);
        }
        // KVM writes ALIGN(npages, BITS_PER_LONG) / 8 bytes (kvm_dirty_bitmap_bytes, include/linux/kvm_host.h).
        Memory bitmap = new Memory(words * Long.BYTES);
        kvm_dirty_log log = new kvm_dirty_log();
        log.slot = slot;
        log.dirty_bitmap = bitmap;
        log.write();
        if (LibC.ioctl(fd, Ioctl.KVM_GET_DIRTY_LOG, log.getPointer()) < 0) {
            throw lastError("KVM_GET_DIRTY_LOG(slot=" + slot + ", size=" + hex(slotSize) + ")");
        }
        long[] result = new long[(int) words];
        bitmap.read(0, result, 0, result.length);
        return result;
    }

    @Override
    public void createInterruptController() {
        if (LibC.ioctl(fd, Ioctl.KVM_CREATE_IRQCHIP, 0L) < 0) {
            throw lastError("KVM_CREATE_IRQCHIP");
        }
        kvm_pit_config config = new kvm_pit_config();
        // Without it every access to port 0x61 (the speaker gate, polled by PC firmware and
        // kernels for PIT channel 2) would exit to the VMM.
        config.flags = kvm_pit_config.KVM_PIT_SPEAKER_DUMMY;
        config.write();
        if (LibC.ioctl(fd, Ioctl.KVM_CREATE_PIT2, config.getPointer()) < 0) {
            throw lastError("KVM_CREATE_PIT2(flags=KVM_PIT_SPEAKER_DUMMY)");
        }
    }

    @Override
    public void setIrqLine(int irq, boolean high) {
        kvm_irq_level level = new kvm_irq_level();
        level.irq = irq;
        level.level = high ? 1 : 0;
        level.write();
        if (LibC.ioctl(fd, Ioctl.KVM_IRQ_LINE, level.getPointer()) < 0) {
            throw lastError("KVM_IRQ_LINE(irq=" + irq + ", level=" + level.level + ")");
        }
    }

    @Override
    public synchronized KvmVcpu createVcpu(int id) {
        if (closed) {
            throw new IllegalStateException("VM is closed");
        }
        int vcpuFd = LibC.ioctl(fd, Ioctl.KVM_CREATE_VCPU, (long) id);
        if (vcpuFd < 0) {
            throw lastError("KVM_CREATE_VCPU(id=" + id + ")");
        }
        KvmVcpu vcpu = new KvmVcpu(this, id, vcpuFd, kvm.vcpuMmapSize());
        vcpus.add(vcpu);
        return vcpu;
    }

    /**
     * Closes the vCPUs that are still open, then the VM fd. vCPU threads must have left
     * {@code run()} before: a vCPU's kvm_run mapping goes away with it.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (KvmVcpu vcpu : vcpus) {
            vcpu.close();
        }
        vcpus.clear();
        LibC.close(fd);
    }

    @Override
    public String toString() {
        return "KVM VM (fd " + fd + ")";
    }
}
