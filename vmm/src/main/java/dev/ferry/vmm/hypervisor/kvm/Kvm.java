package dev.ferry.vmm.hypervisor.kvm;

import com.sun.jna.Memory;
import dev.ferry.vmm.hypervisor.CpuidEntry;
import dev.ferry.vmm.hypervisor.Hypervisor;
import dev.ferry.vmm.hypervisor.HypervisorException;
import dev.ferry.vmm.os.Errno;
import dev.ferry.vmm.os.LibC;

import java.util.ArrayList;
import java.util.List;

import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_cpuid2;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_cpuid_entry2;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_msr_list;
import static dev.ferry.vmm.hypervisor.kvm.KvmCalls.failure;
import static dev.ferry.vmm.hypervisor.kvm.KvmCalls.lastError;

/**
 * The /dev/kvm fd: checks the API version and the capabilities Ferry relies on, and creates VMs.
 * (api.rst section 4, "system ioctls".)
 */
public final class Kvm implements Hypervisor {
    public static final String DEFAULT_DEVICE = "/dev/kvm";

    /** The only stable KVM API version (api.rst, KVM_GET_API_VERSION). */
    public static final int API_VERSION = 12;

    /** What Ferry cannot work without; checked when the device is opened. */
    static final int[] REQUIRED_CAPABILITIES = {
        KvmCapability.KVM_CAP_USER_MEMORY,
        KvmCapability.KVM_CAP_IRQCHIP,
        KvmCapability.KVM_CAP_PIT2,
        KvmCapability.KVM_CAP_IMMEDIATE_EXIT,
        KvmCapability.KVM_CAP_SET_TSS_ADDR,
        KvmCapability.KVM_CAP_EXT_CPUID,
        KvmCapability.KVM_CAP_MP_STATE,
    };

    /** KVM_MAX_CPUID_ENTRIES in arch/x86/include/asm/kvm_host.h; grown on E2BIG if a kernel has more. */
    private static final int INITIAL_CPUID_ENTRIES = 256;
    private static final int MAX_CPUID_ENTRIES = 4096;

    private final String device;
    private final int fd;
    private final int vcpuMmapSize;
    private int[] msrIndexList;
    private boolean closed;

    private Kvm(String device, int fd, int vcpuMmapSize) {
        this.device = device;
        this.fd = fd;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    /** Opens {@value #DEFAULT_DEVICE}. */
    public static Kvm open() {
        return open(DEFAULT_DEVICE);
    }

    /**
     * Opens a KVM device and checks it: API version {@value #API_VERSION} and every capability in
     * {@link #REQUIRED_CAPABILITIES}. Errors say what to do about them.
     */
    public static Kvm open(String device) {
        int fd = LibC.open(device, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        if (fd < 0) {
            throw openFailure(device, LibC.errno());
        }
        try {
            checkApiVersion(device, fd);
            checkCapabilities(device, fd);
            int mmapSize = LibC.ioctl(fd, Ioctl.KVM_GET_VCPU_MMAP_SIZE, 0L);
            if (mmapSize < 0) {
                throw lastError("KVM_GET_VCPU_MMAP_SIZE");
            }
            return new Kvm(device, fd, mmapSize);
        } catch (RuntimeException e) {
            LibC.close(fd);
            throw e;
        }
    }

    private static HypervisorException openFailure(String device, int errno) {
        switch (errno) {
            case Errno.ENOENT:
                return new HypervisorException(device + " not found: is KVM enabled (kvm_amd/kvm_intel loaded)?",
                        errno);
            case Errno.EACCES:
            case Errno.EPERM:
                return new HypervisorException("no permission to open " + device
                        + ": add the user to the 'kvm' group", errno);
            case Errno.ENXIO:
            case Errno.ENODEV:
                return new HypervisorException(device + " has no driver behind it (" + Errno.name(errno)
                        + "): is KVM enabled (kvm_amd/kvm_intel loaded)?", errno);
            default:
                return failure("open(" + device + ", O_RDWR|O_CLOEXEC)", errno);
        }
    }

    private static void checkApiVersion(String device, int fd) {
        int version = LibC.ioctl(fd, Ioctl.KVM_GET_API_VERSION, 0L);
        if (version < 0) {
            int errno = LibC.errno();
            throw new HypervisorException(device + " is not a KVM device: KVM_GET_API_VERSION failed: "
                    + Errno.describe(errno), errno);
        }
        if (version != API_VERSION) {
            throw new HypervisorException(device + " implements KVM API version " + version + ", Ferry needs "
                    + API_VERSION);
        }
    }

    private static void checkCapabilities(String device, int fd) {
        List<String> missing = new ArrayList<>();
        for (int capability : REQUIRED_CAPABILITIES) {
            if (checkExtension(fd, capability) <= 0) {
                missing.add(KvmCapability.name(capability));
            }
        }
        if (!missing.isEmpty()) {
            throw new HypervisorException("KVM on " + device + " lacks required capabilities: "
                    + String.join(", ", missing));
        }
    }

    static int checkExtension(int fd, int capability) {
        int result = LibC.ioctl(fd, Ioctl.KVM_CHECK_EXTENSION, (long) capability);
        if (result < 0) {
            throw lastError("KVM_CHECK_EXTENSION(" + KvmCapability.name(capability) + ")");
        }
        return result;
    }

    /** The /dev/kvm fd. */
    public int fd() {
        return fd;
    }

    /**
     * KVM_CHECK_EXTENSION on /dev/kvm: 0 if absent, otherwise 1 or a capability-specific value
     * (e.g. the number of memory slots for KVM_CAP_NR_MEMSLOTS).
     */
    public int checkExtension(int capability) {
        return checkExtension(fd, capability);
    }

    public boolean hasCapability(int capability) {
        return checkExtension(capability) > 0;
    }

    /** Size of the mmap of a vCPU fd: struct kvm_run plus the pages that follow it. */
    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /**
     * The guest MSRs KVM supports, i.e. those userspace saves and restores to migrate a vCPU
     * (api.rst, KVM_GET_MSR_INDEX_LIST: the list depends on the KVM version and host processor
     * but does not change otherwise, so it is asked once). Some listed MSRs may still fail to
     * read on a given vCPU (see {@link KvmVcpu#saveState()}).
     */
    public synchronized int[] msrIndexList() {
        if (msrIndexList == null) {
            msrIndexList = readMsrIndexList();
        }
        return msrIndexList.clone();
    }

    private int[] readMsrIndexList() {
        // api.rst, KVM_GET_MSR_INDEX_LIST: with too small an nmsrs KVM fails with E2BIG and writes the number needed.
        int capacity = 0;
        for (int attempt = 0; attempt < 4; attempt++) {
            int headerSize = new kvm_msr_list().size();
            Memory buffer = new Memory(headerSize + (long) Math.max(1, capacity) * Integer.BYTES);
            buffer.clear();
            kvm_msr_list header = new kvm_msr_list(buffer);
            header.nmsrs = capacity;
            header.write();
            if (LibC.ioctl(fd, Ioctl.KVM_GET_MSR_INDEX_LIST, buffer) < 0) {
                int errno = LibC.errno();
                header.read();
                if (errno == Errno.E2BIG && header.nmsrs > capacity) {
                    capacity = header.nmsrs;
                    continue;
                }
                throw failure("KVM_GET_MSR_INDEX_LIST(nmsrs=" + capacity + ")", errno);
            }
            header.read();
            return buffer.getIntArray(headerSize, header.nmsrs);
        }
        throw new HypervisorException("KVM_GET_MSR_INDEX_LIST(nmsrs=" + capacity + ") failed: the list kept growing");
    }

    @Override
    public KvmVm createVirtualMachine() {
        int vmFd;
        do {
            // KVM_CREATE_VM can fail with EINTR while the kernel sets up the mm; QEMU retries too.
            vmFd = LibC.ioctl(fd, Ioctl.KVM_CREATE_VM, 0L);
        } while (vmFd < 0 && LibC.errno() == Errno.EINTR);
        if (vmFd < 0) {
            throw lastError("KVM_CREATE_VM(type=0)");
        }
        return new KvmVm(this, vmFd);
    }

    @Override
    public List<CpuidEntry> supportedCpuid() {
        int headerSize = new kvm_cpuid2().size();
        int entrySize = new kvm_cpuid_entry2().size();
        for (int capacity = INITIAL_CPUID_ENTRIES; ; capacity *= 2) {
            Memory buffer = new Memory(headerSize + (long) capacity * entrySize);
            buffer.clear();
            kvm_cpuid2 header = new kvm_cpuid2(buffer);
            header.nent = capacity;
            header.write();
            if (LibC.ioctl(fd, Ioctl.KVM_GET_SUPPORTED_CPUID, buffer) < 0) {
                int errno = LibC.errno();
                if (errno == Errno.E2BIG && capacity < MAX_CPUID_ENTRIES) {
                    continue;
                }
                throw failure("KVM_GET_SUPPORTED_CPUID(nent=" + capacity + ")", errno);
            }
            header.read();
            List<CpuidEntry> entries = new ArrayList<>(header.nent);
            for (int i = 0; i < header.nent; i++) {
                kvm_cpuid_entry2 entry = new kvm_cpuid_entry2(buffer.share(headerSize + (long) i * entrySize));
                entry.read();
                entries.add(new CpuidEntry(entry.function, entry.index, entry.flags,
                        entry.eax, entry.ebx, entry.ecx, entry.edx));
            }
            return List.copyOf(entries);
        }
    }

    @Override
    public String description() {
        return "KVM API " + API_VERSION + " on " + device;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            LibC.close(fd);
        }
    }

    @Override
    public String toString() {
        return description();
    }
}
