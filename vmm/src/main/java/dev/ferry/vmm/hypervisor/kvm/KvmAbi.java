package dev.ferry.vmm.hypervisor.kvm;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;

/**
 * The structures of include/uapi/linux/kvm.h (and arch/x86/include/uapi/asm/kvm.h) that Ferry
 * passes to ioctls, with the C names of types and fields.
 *
 * <p>JNA creates nested structures and reads fields by reflection, which needs classes it can
 * access; the classes are therefore public, but nested in this package-private holder so that no
 * code outside the package can name them. Variable-length structures ({@code kvm_cpuid2},
 * {@code kvm_msrs}) are represented by their fixed header (whose size is what the ioctl number
 * encodes); their entries follow the header in the same native buffer.
 */
final class KvmAbi {
    private KvmAbi() {}

    /** KVM_SET_USER_MEMORY_REGION. */
    @Structure.FieldOrder({"slot", "flags", "guest_phys_addr", "memory_size", "userspace_addr"})
    public static final class kvm_userspace_memory_region extends Structure {
        /** flags: track writes for KVM_GET_DIRTY_LOG. */
        static final int KVM_MEM_LOG_DIRTY_PAGES = 1;

        public int slot;
        public int flags;
        public long guest_phys_addr;
        public long memory_size;
        public long userspace_addr;
    }

    /** KVM_GET_REGS / KVM_SET_REGS (x86). */
    @Structure.FieldOrder({"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"})
    public static final class kvm_regs extends Structure {
        public long rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
        public long r8, r9, r10, r11, r12, r13, r14, r15;
        public long rip, rflags;
    }

    /** A segment register including its hidden part (x86). */
    @Structure.FieldOrder({"base", "limit", "selector", "type", "present", "dpl", "db", "s", "l", "g",
            "avl", "unusable", "padding"})
    public static final class kvm_segment extends Structure {
        public long base;
        public int limit;
        public short selector;
        public byte type;
        public byte present, dpl, db, s, l, g, avl;
        public byte unusable;
        public byte padding;
    }

    /** GDTR / IDTR (x86). */
    @Structure.FieldOrder({"base", "limit", "padding"})
    public static final class kvm_dtable extends Structure {
        public long base;
        public short limit;
        public short[] padding = new short[3];
    }

    /** KVM_GET_SREGS / KVM_SET_SREGS (x86). */
    @Structure.FieldOrder({"cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt", "gdt", "idt",
            "cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base", "interrupt_bitmap"})
    public static final class kvm_sregs extends Structure {
        /** (KVM_NR_INTERRUPTS + 63) / 64 with KVM_NR_INTERRUPTS = 256. */
        static final int INTERRUPT_BITMAP_WORDS = 4;

        public kvm_segment cs, ds, es, fs, gs, ss;
        public kvm_segment tr, ldt;
        public kvm_dtable gdt, idt;
        public long cr0, cr2, cr3, cr4, cr8;
        public long efer;
        public long apic_base;
        public long[] interrupt_bitmap = new long[INTERRUPT_BITMAP_WORDS];
    }

    /** Header of KVM_SET_CPUID2 / KVM_GET_SUPPORTED_CPUID; {@code nent} entries follow. */
    @Structure.FieldOrder({"nent", "padding"})
    public static final class kvm_cpuid2 extends Structure {
        public int nent;
        public int padding;

        public kvm_cpuid2() {}

        public kvm_cpuid2(Pointer memory) {
            super(memory);
        }
    }

    /** One CPUID leaf (x86). */
    @Structure.FieldOrder({"function", "index", "flags", "eax", "ebx", "ecx", "edx", "padding"})
    public static final class kvm_cpuid_entry2 extends Structure {
        public int function;
        public int index;
        public int flags;
        public int eax, ebx, ecx, edx;
        public int[] padding = new int[3];

        public kvm_cpuid_entry2() {}

        public kvm_cpuid_entry2(Pointer memory) {
            super(memory);
        }
    }

    /** Header of KVM_GET_MSRS / KVM_SET_MSRS; {@code nmsrs} entries follow. */
    @Structure.FieldOrder({"nmsrs", "pad"})
    public static final class kvm_msrs extends Structure {
        public int nmsrs;
        public int pad;

        public kvm_msrs() {}

        public kvm_msrs(Pointer memory) {
            super(memory);
        }
    }

    /** One MSR (x86). */
    @Structure.FieldOrder({"index", "reserved", "data"})
    public static final class kvm_msr_entry extends Structure {
        public int index;
        public int reserved;
        public long data;

        public kvm_msr_entry() {}

        public kvm_msr_entry(Pointer memory) {
            super(memory);
        }
    }

    /** KVM_GET_MP_STATE / KVM_SET_MP_STATE. */
    @Structure.FieldOrder({"mp_state"})
    public static final class kvm_mp_state extends Structure {
        public int mp_state;
    }

    /** KVM_GET_DIRTY_LOG; {@code dirty_bitmap} is a union with a __u64 padding in C. */
    @Structure.FieldOrder({"slot", "padding1", "dirty_bitmap"})
    public static final class kvm_dirty_log extends Structure {
        public int slot;
        public int padding1;
        public Pointer dirty_bitmap;
    }

    /** KVM_IRQ_LINE; {@code irq} is a union with {@code __s32 status} (KVM_IRQ_LINE_STATUS) in C. */
    @Structure.FieldOrder({"irq", "level"})
    public static final class kvm_irq_level extends Structure {
        public int irq;
        public int level;
    }

    /** KVM_CREATE_PIT2. */
    @Structure.FieldOrder({"flags", "pad"})
    public static final class kvm_pit_config extends Structure {
        /** flags: emulate port 0x61 (the PC speaker gate) in the kernel instead of exiting. */
        static final int KVM_PIT_SPEAKER_DUMMY = 1;

        public int flags;
        public int[] pad = new int[15];
    }

    /** Header of KVM_GET_MSR_INDEX_LIST; {@code nmsrs} __u32 indices follow. */
    @Structure.FieldOrder({"nmsrs"})
    public static final class kvm_msr_list extends Structure {
        public int nmsrs;

        public kvm_msr_list() {}

        public kvm_msr_list(Pointer memory) {
            super(memory);
        }
    }

    /** KVM_GET_LAPIC / KVM_SET_LAPIC: the local APIC register page as the guest sees it (x86). */
    @Structure.FieldOrder({"regs"})
    public static final class kvm_lapic_state extends Structure {
        /** KVM_APIC_REG_SIZE. */
        static final int KVM_APIC_REG_SIZE = 0x400;

        public byte[] regs = new byte[KVM_APIC_REG_SIZE];
    }

    /**
     * KVM_GET_VCPU_EVENTS / KVM_SET_VCPU_EVENTS (x86): pending and injected exceptions,
     * interrupts, NMIs and SMIs, and the interrupt shadow. The anonymous inner structs of the C
     * declaration are the nested classes; Ferry moves the structure as raw bytes and reads only
     * {@code flags} through it.
     */
    @Structure.FieldOrder({"exception", "interrupt", "nmi", "sipi_vector", "flags", "smi", "triple_fault",
            "reserved", "exception_has_payload", "exception_payload"})
    public static final class kvm_vcpu_events extends Structure {
        static final int KVM_VCPUEVENT_VALID_NMI_PENDING = 0x01;
        static final int KVM_VCPUEVENT_VALID_SIPI_VECTOR = 0x02;
        static final int KVM_VCPUEVENT_VALID_SHADOW = 0x04;
        static final int KVM_VCPUEVENT_VALID_SMM = 0x08;
        static final int KVM_VCPUEVENT_VALID_PAYLOAD = 0x10;
        static final int KVM_VCPUEVENT_VALID_TRIPLE_FAULT = 0x20;

        @Structure.FieldOrder({"injected", "nr", "has_error_code", "pending", "error_code"})
        public static final class exception_t extends Structure {
            public byte injected;
            public byte nr;
            public byte has_error_code;
            public byte pending;
            public int error_code;
        }

        @Structure.FieldOrder({"injected", "nr", "soft", "shadow"})
        public static final class interrupt_t extends Structure {
            public byte injected;
            public byte nr;
            public byte soft;
            public byte shadow;
        }

        @Structure.FieldOrder({"injected", "pending", "masked", "pad"})
        public static final class nmi_t extends Structure {
            public byte injected;
            public byte pending;
            public byte masked;
            public byte pad;
        }

        @Structure.FieldOrder({"smm", "pending", "smm_inside_nmi", "latched_init"})
        public static final class smi_t extends Structure {
            public byte smm;
            public byte pending;
            public byte smm_inside_nmi;
            public byte latched_init;
        }

        @Structure.FieldOrder({"pending"})
        public static final class triple_fault_t extends Structure {
            public byte pending;
        }

        public exception_t exception;
        public interrupt_t interrupt;
        public nmi_t nmi;
        public int sipi_vector;
        public int flags;
        public smi_t smi;
        public triple_fault_t triple_fault;
        public byte[] reserved = new byte[26];
        public byte exception_has_payload;
        public long exception_payload;

        public kvm_vcpu_events() {}

        public kvm_vcpu_events(Pointer memory) {
            super(memory);
        }
    }

    /** KVM_GET_DEBUGREGS / KVM_SET_DEBUGREGS (x86): DR0-DR3, DR6, DR7. */
    @Structure.FieldOrder({"db", "dr6", "dr7", "flags", "reserved"})
    public static final class kvm_debugregs extends Structure {
        public long[] db = new long[4];
        public long dr6;
        public long dr7;
        public long flags;
        public long[] reserved = new long[9];
    }

    /**
     * KVM_GET_XSAVE / KVM_SET_XSAVE / KVM_GET_XSAVE2 (x86): the XSAVE area in the standard
     * (non-compacted) format. Since KVM_CAP_XSAVE2 the C struct ends in a flexible array
     * {@code extra[]} and may be longer than these 4096 bytes, so Ferry passes a raw buffer of the
     * size KVM reports; this class gives the fixed size the ioctl numbers encode.
     */
    @Structure.FieldOrder({"region"})
    public static final class kvm_xsave extends Structure {
        /** sizeof(struct kvm_xsave) without {@code extra}. */
        static final int SIZE = 4096;

        public int[] region = new int[SIZE / Integer.BYTES];
    }

    /** One extended control register (XCR0, ...) (x86). */
    @Structure.FieldOrder({"xcr", "reserved", "value"})
    public static final class kvm_xcr extends Structure {
        public int xcr;
        public int reserved;
        public long value;
    }

    /** KVM_GET_XCRS / KVM_SET_XCRS (x86). */
    @Structure.FieldOrder({"nr_xcrs", "flags", "xcrs", "padding"})
    public static final class kvm_xcrs extends Structure {
        /** KVM_MAX_XCRS. */
        static final int KVM_MAX_XCRS = 16;

        public int nr_xcrs;
        public int flags;
        public kvm_xcr[] xcrs = (kvm_xcr[]) new kvm_xcr().toArray(KVM_MAX_XCRS);
        public long[] padding = new long[16];
    }
}
