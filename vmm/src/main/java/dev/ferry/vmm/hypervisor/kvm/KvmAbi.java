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
}
