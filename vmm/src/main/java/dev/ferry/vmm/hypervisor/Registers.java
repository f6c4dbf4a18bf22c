package dev.ferry.vmm.hypervisor;

/** Register files as plain values (KVM: struct kvm_regs, struct kvm_sregs). */
public final class Registers {
    private Registers() {}

    /** General-purpose registers, RIP and RFLAGS. */
    public record Standard(long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
                           long r8, long r9, long r10, long r11, long r12, long r13, long r14, long r15,
                           long rip, long rflags) {

        /** RFLAGS bit 1 is reserved and always 1 (Intel SDM vol. 1, 3.4.3). */
        public static final long RFLAGS_RESERVED = 1L << 1;

        public static Standard zero() {
            return new Standard(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, RFLAGS_RESERVED);
        }

        public Standard withRip(long value) {
            return new Standard(rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15,
                    value, rflags);
        }

        public Standard withRaxRbx(long a, long b) {
            return new Standard(a, b, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15,
                    rip, rflags);
        }
    }

    /** A segment register with its hidden part (struct kvm_segment). */
    public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                          boolean db, boolean s, boolean l, boolean g, boolean avl, boolean unusable) {}

    /** GDTR / IDTR (struct kvm_dtable). */
    public record DescriptorTable(long base, int limit) {}

    /** Segment, control and system registers (struct kvm_sregs). */
    public record Special(Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss,
                          Segment tr, Segment ldt, DescriptorTable gdt, DescriptorTable idt,
                          long cr0, long cr2, long cr3, long cr4, long cr8, long efer, long apicBase,
                          long[] interruptBitmap) {

        public Special {
            interruptBitmap = interruptBitmap.clone();
        }

        @Override
        public long[] interruptBitmap() {
            return interruptBitmap.clone();
        }

        public Special withFlatProtectedMode(Segment code, Segment data, long newCr0) {
            return new Special(code, data, data, data, data, data, tr, ldt, gdt, idt, newCr0, cr2, cr3, cr4,
                    cr8, efer, apicBase, interruptBitmap);
        }
    }
}
