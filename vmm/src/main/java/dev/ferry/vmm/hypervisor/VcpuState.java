package dev.ferry.vmm.hypervisor;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/**
 * Everything a stopped vCPU holds, as {@link Vcpu#saveState()} reads it and
 * {@link Vcpu#restoreState(VcpuState)} writes it back (on the same or another VM), for live
 * migration. The KVM-defined layouts are kept as the raw bytes KVM returned, so that a state is
 * restored bit for bit even where Ferry does not interpret a field:
 *
 * <ul>
 *   <li>{@code xsave}: the XSAVE area in standard format (KVM_GET_XSAVE2, or KVM_GET_XSAVE when
 *       the host lacks KVM_CAP_XSAVE2): x87, SSE, AVX, ... registers; at least 4096 bytes.
 *   <li>{@code lapic}: the 1024-byte local APIC register page (KVM_GET_LAPIC), or empty when the
 *       VM has no in-kernel interrupt controller.
 *   <li>{@code vcpuEvents}: struct kvm_vcpu_events, 64 bytes (pending/injected exception,
 *       interrupt, NMI and SMI, interrupt shadow).
 * </ul>
 *
 * <p>{@code msrs} are the MSRs that KVM lists as to be saved (KVM_GET_MSR_INDEX_LIST) and that
 * the vCPU could actually read, in the order read; the TSC (0x10) is among them. CPUID is not
 * part of the state: it is configuration, and the destination vCPU must be given the same CPUID
 * before the state is restored (KVM checks XCR0 and some MSR values against it).
 *
 * <p>Immutable: arrays are copied in and out. {@link #equals} compares contents (including
 * the interrupt bitmap of the special registers, which {@link Registers.Special} itself compares
 * by reference). A migration carries it in a VCPU record (VcpuStateCodec,
 * docs/migration-stream.md).
 */
public record VcpuState(Registers.Standard registers, Registers.Special specialRegisters, byte[] xsave,
                        List<Xcr> xcrs, byte[] lapic, byte[] vcpuEvents, int mpState,
                        DebugRegisters debugRegisters, List<Msr> msrs) {

    /** MSR index of the time-stamp counter (IA32_TIME_STAMP_COUNTER). */
    public static final int MSR_IA32_TSC = 0x10;

    /** One extended control register: XCR{@code index} (XCR0 is the XSAVE feature mask). */
    public record Xcr(int index, long value) {}

    /** One model-specific register. */
    public record Msr(int index, long value) {
        @Override
        public String toString() {
            return "0x" + Integer.toHexString(index) + "=0x" + Long.toHexString(value);
        }
    }

    /** DR0-DR3, DR6, DR7 and KVM's flags word (struct kvm_debugregs). */
    public record DebugRegisters(long dr0, long dr1, long dr2, long dr3, long dr6, long dr7, long flags) {}

    public VcpuState {
        Objects.requireNonNull(registers, "registers");
        Objects.requireNonNull(specialRegisters, "specialRegisters");
        Objects.requireNonNull(debugRegisters, "debugRegisters");
        xsave = Objects.requireNonNull(xsave, "xsave").clone();
        lapic = Objects.requireNonNull(lapic, "lapic").clone();
        vcpuEvents = Objects.requireNonNull(vcpuEvents, "vcpuEvents").clone();
        xcrs = List.copyOf(xcrs);
        msrs = List.copyOf(msrs);
    }

    @Override
    public byte[] xsave() {
        return xsave.clone();
    }

    @Override
    public byte[] lapic() {
        return lapic.clone();
    }

    @Override
    public byte[] vcpuEvents() {
        return vcpuEvents.clone();
    }

    /** The value of MSR {@code index}, or null if the state does not hold it. */
    public Long msr(int index) {
        for (Msr msr : msrs) {
            if (msr.index() == index) {
                return msr.value();
            }
        }
        return null;
    }

    /** A copy with MSR {@code index} replaced (or added at the end). */
    public VcpuState withMsr(int index, long value) {
        List<Msr> changed = new ArrayList<>(msrs);
        boolean found = false;
        for (int i = 0; i < changed.size(); i++) {
            if (changed.get(i).index() == index) {
                changed.set(i, new Msr(index, value));
                found = true;
            }
        }
        if (!found) {
            changed.add(new Msr(index, value));
        }
        return new VcpuState(registers, specialRegisters, xsave, xcrs, lapic, vcpuEvents, mpState, debugRegisters,
                changed);
    }

    /** A copy with another XSAVE area (e.g. to set SSE registers before a restore). */
    public VcpuState withXsave(byte[] area) {
        return new VcpuState(registers, specialRegisters, area, xcrs, lapic, vcpuEvents, mpState, debugRegisters,
                msrs);
    }

    /** A copy with other general-purpose registers. */
    public VcpuState withRegisters(Registers.Standard standard) {
        return new VcpuState(standard, specialRegisters, xsave, xcrs, lapic, vcpuEvents, mpState, debugRegisters,
                msrs);
    }

    /**
     * Field-by-field differences from {@code other}, one line each ("msr 0x10: 0x1 != 0x2",
     * "xsave: 2 bytes differ, first at 0xa0: 0x00 != 0x11"); empty if the states are equal.
     * MSRs are compared by index, so order does not matter.
     */
    public List<String> differences(VcpuState other) {
        List<String> out = new ArrayList<>();
        componentDifferences(out, "registers", registers, other.registers);
        componentDifferences(out, "specialRegisters", specialRegisters, other.specialRegisters);
        bytes(out, "xsave", xsave, other.xsave);
        if (!xcrs.equals(other.xcrs)) {
            out.add("xcrs: " + xcrs + " != " + other.xcrs);
        }
        bytes(out, "lapic", lapic, other.lapic);
        bytes(out, "vcpuEvents", vcpuEvents, other.vcpuEvents);
        if (mpState != other.mpState) {
            out.add("mpState: " + mpState + " != " + other.mpState);
        }
        componentDifferences(out, "debugRegisters", debugRegisters, other.debugRegisters);
        for (Msr msr : msrs) {
            Long theirs = other.msr(msr.index());
            if (theirs == null) {
                out.add("msr 0x" + Integer.toHexString(msr.index()) + ": only in the first state");
            } else if (theirs != msr.value()) {
                out.add("msr 0x" + Integer.toHexString(msr.index()) + ": 0x" + Long.toHexString(msr.value())
                        + " != 0x" + Long.toHexString(theirs));
            }
        }
        for (Msr msr : other.msrs) {
            if (msr(msr.index()) == null) {
                out.add("msr 0x" + Integer.toHexString(msr.index()) + ": only in the second state");
            }
        }
        return out;
    }

    private static void bytes(List<String> out, String name, byte[] a, byte[] b) {
        if (a.length != b.length) {
            out.add(name + ": " + a.length + " bytes != " + b.length + " bytes");
            return;
        }
        int first = Arrays.mismatch(a, b);
        if (first < 0) {
            return;
        }
        int count = 0;
        for (int i = first; i < a.length; i++) {
            if (a[i] != b[i]) {
                count++;
            }
        }
        HexFormat hex = HexFormat.of();
        out.add(name + ": " + count + " bytes differ, first at 0x" + Integer.toHexString(first) + ": 0x"
                + hex.toHexDigits(a[first]) + " != 0x" + hex.toHexDigits(b[first]));
    }

    /** One line per component of two records of the same type that differs (arrays by content). */
    private static void componentDifferences(List<String> out, String name, Record a, Record b) {
        for (RecordComponent component : a.getClass().getRecordComponents()) {
            Object x;
            Object y;
            try {
                x = component.getAccessor().invoke(a);
                y = component.getAccessor().invoke(b);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read " + name + "." + component.getName(), e);
            }
            if (x instanceof long[] xs && y instanceof long[] ys) {
                if (!Arrays.equals(xs, ys)) {
                    out.add(name + "." + component.getName() + ": " + Arrays.toString(xs) + " != "
                            + Arrays.toString(ys));
                }
            } else if (x instanceof Long xl && y instanceof Long yl) {
                if (!xl.equals(yl)) {
                    out.add(name + "." + component.getName() + ": 0x" + Long.toHexString(xl) + " != 0x"
                            + Long.toHexString(yl));
                }
            } else if (!Objects.equals(x, y)) {
                out.add(name + "." + component.getName() + ": " + x + " != " + y);
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VcpuState other && differences(other).isEmpty();
    }

    @Override
    public int hashCode() {
        return Objects.hash(registers, specialRegisters.cr0(), specialRegisters.cr3(), specialRegisters.cr4(),
                Arrays.hashCode(xsave), xcrs, Arrays.hashCode(lapic), Arrays.hashCode(vcpuEvents), mpState,
                debugRegisters, new HashSet<>(msrs));
    }

    @Override
    public String toString() {
        return "VcpuState[rip=0x" + Long.toHexString(registers.rip()) + ", cr0=0x"
                + Long.toHexString(specialRegisters.cr0()) + ", mpState=" + mpState + ", xsave=" + xsave.length
                + " bytes, xcrs=" + xcrs + ", lapic=" + lapic.length + " bytes, " + msrs.size() + " msrs]";
    }
}
