package dev.ferry.vmm.testing;

import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.Vcpu;

/** Puts a fresh vCPU in real mode with CS base 0 and selector 0, so that IP is the guest-physical address. */
public final class RealMode {
    private RealMode() {}

    public static void enter(Vcpu vcpu, long entry) {
        Registers.Special s = vcpu.specialRegisters();
        Registers.Segment cs = s.cs();
        Registers.Segment flatCs = new Registers.Segment(0, cs.limit(), 0, cs.type(), cs.present(), cs.dpl(), cs.db(),
                cs.s(), cs.l(), cs.g(), cs.avl(), cs.unusable());
        vcpu.setSpecialRegisters(new Registers.Special(flatCs, s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(),
                s.gdt(), s.idt(), s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase(),
                s.interruptBitmap()));
        vcpu.setRegisters(Registers.Standard.zero().withRip(entry));
    }
}
