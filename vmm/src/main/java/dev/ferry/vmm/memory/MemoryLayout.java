package dev.ferry.vmm.memory;

import java.util.ArrayList;
import java.util.List;

/**
 * The guest-physical memory map, laid out as QEMU's PC machines do: RAM from 0 up to the PCI
 * hole, the hole (MMIO: IOAPIC 0xfec00000, LAPIC 0xfee00000, firmware ROM below 4 GiB), and the
 * rest of RAM from 4 GiB up. See docs/memory-map.md.
 */
public final class MemoryLayout {

    /** Where the PCI hole starts: RAM below 4 GiB ends here (QEMU q35 uses 2.75-3 GiB). */
    public static final long LOW_RAM_LIMIT = 0xC000_0000L;
    /** RAM above the hole starts at 4 GiB. */
    public static final long HIGH_RAM_BASE = 0x1_0000_0000L;
    /** Conventional memory ends at 639 KiB (the EBDA and VGA window follow). */
    public static final long CONVENTIONAL_END = 0x9_FC00L;
    /** The legacy BIOS/VGA area 640 KiB-1 MiB is reported reserved, as on a PC. */
    public static final long LEGACY_HOLE_START = 0xA_0000L;
    public static final long EXTENDED_START = 0x10_0000L;
    public static final long PAGE_SIZE = 4096;
    /** The smallest guest Ferry will build: the firmware and its tables need a few MiB. */
    public static final long MIN_RAM = 16L << 20;

    private final long ramSize;
    private final List<RamRange> ranges;

    public MemoryLayout(long ramSize) {
        if (ramSize < MIN_RAM) {
            throw new IllegalArgumentException("RAM size " + ramSize + " is below the minimum of 16 MiB");
        }
        if (ramSize % (2L << 20) != 0) {
            throw new IllegalArgumentException("RAM size must be a multiple of 2 MiB, got " + ramSize);
        }
        this.ramSize = ramSize;
        List<RamRange> list = new ArrayList<>();
        long low = Math.min(ramSize, LOW_RAM_LIMIT);
        list.add(new RamRange(0, low, 0));
        if (ramSize > low) {
            list.add(new RamRange(HIGH_RAM_BASE, ramSize - low, low));
        }
        this.ranges = List.copyOf(list);
    }

    public long ramSize() {
        return ramSize;
    }

    /** RAM ranges in address order; index i becomes KVM memory slot i. */
    public List<RamRange> ranges() {
        return ranges;
    }

    /** The highest guest-physical address of RAM, exclusive. */
    public long ramEnd() {
        return ranges.get(ranges.size() - 1).end();
    }

    /** The range holding [gpa, gpa+length), or null if it is not all RAM in one range. */
    public RamRange rangeOf(long gpa, long length) {
        for (RamRange r : ranges) {
            if (r.contains(gpa, length)) {
                return r;
            }
        }
        return null;
    }

    /**
     * The firmware-visible memory map (E820 / Multiboot mmap): usable conventional memory, the
     * reserved legacy hole, usable extended memory, and RAM above 4 GiB.
     */
    public List<MemoryMapEntry> firmwareMap() {
        List<MemoryMapEntry> map = new ArrayList<>();
        map.add(new MemoryMapEntry(0, CONVENTIONAL_END, MemoryMapEntry.Type.USABLE));
        map.add(new MemoryMapEntry(CONVENTIONAL_END, EXTENDED_START - CONVENTIONAL_END, MemoryMapEntry.Type.RESERVED));
        RamRange low = ranges.get(0);
        map.add(new MemoryMapEntry(EXTENDED_START, low.end() - EXTENDED_START, MemoryMapEntry.Type.USABLE));
        for (int i = 1; i < ranges.size(); i++) {
            RamRange r = ranges.get(i);
            map.add(new MemoryMapEntry(r.guestPhysicalAddress(), r.size(), MemoryMapEntry.Type.USABLE));
        }
        return map;
    }
}
