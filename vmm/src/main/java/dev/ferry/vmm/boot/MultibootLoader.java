package dev.ferry.vmm.boot;

import dev.ferry.vmm.memory.GuestMemory;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.MemoryMapEntry;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Loads a Multiboot (v1) kernel into guest RAM and builds the Multiboot information structure
 * (Multiboot spec 0.6.96, sections 3.1-3.3). The boot information lives in a fixed low area,
 * {@link #INFO_AREA_START}-{@link #INFO_AREA_END}, that docs/memory-map.md reserves for it.
 */
public final class MultibootLoader {

    /** EAX value that tells the kernel it was loaded by a Multiboot loader (spec 3.2). */
    public static final int BOOTLOADER_MAGIC = 0x2BADB002;

    public static final long INFO_AREA_START = 0x1000;
    public static final long INFO_AREA_END = 0x8000;
    static final long INFO_ADDR = 0x1000;
    static final long LOADER_NAME_ADDR = 0x1100;
    static final long MMAP_ADDR = 0x1200;
    static final long CMDLINE_ADDR = 0x2000;
    static final int CMDLINE_MAX = (int) (INFO_AREA_END - CMDLINE_ADDR) - 1;

    // struct multiboot_info flags (spec 3.3).
    static final int INFO_MEMORY = 1 << 0;
    static final int INFO_CMDLINE = 1 << 2;
    static final int INFO_MMAP = 1 << 6;
    static final int INFO_LOADER_NAME = 1 << 9;
    static final int INFO_SIZE = 88;

    /** Where the kernel starts and what it must find in EAX/EBX. */
    public record LoadedKernel(long entry, long infoAddress, long imageStart, long imageEnd) {}

    private MultibootLoader() {}

    public static LoadedKernel load(byte[] image, String cmdline, GuestMemory memory) {
        MultibootHeader header = MultibootHeader.find(image);
        long entry;
        long start = Long.MAX_VALUE;
        long end = 0;
        if (header.usesAoutKludge()) {
            long fileStart = header.offset() - (header.headerAddr() - header.loadAddr());
            long loadEnd = header.loadEndAddr() == 0 ? header.loadAddr() + (image.length - fileStart)
                    : header.loadEndAddr();
            long bssEnd = Math.max(header.bssEndAddr(), loadEnd);
            if (header.headerAddr() < header.loadAddr() || fileStart < 0 || loadEnd < header.loadAddr()
                    || fileStart + (loadEnd - header.loadAddr()) > image.length) {
                throw new BootException("Multiboot a.out addresses do not fit the image");
            }
            place(memory, header.loadAddr(), bssEnd - header.loadAddr(), "kernel image");
            memory.write(header.loadAddr(), image, Math.toIntExact(fileStart), Math.toIntExact(loadEnd - header.loadAddr()));
            memory.zero(loadEnd, bssEnd - loadEnd);
            entry = header.entryAddr();
            start = header.loadAddr();
            end = bssEnd;
        } else {
            ElfFile elf = ElfFile.parse(image);
            for (ElfFile.Segment s : elf.loadSegments()) {
                if (s.memorySize() == 0) {
                    continue;
                }
                place(memory, s.physicalAddress(), s.memorySize(), "ELF segment");
                memory.write(s.physicalAddress(), image, Math.toIntExact(s.fileOffset()), Math.toIntExact(s.fileSize()));
                memory.zero(s.physicalAddress() + s.fileSize(), s.memorySize() - s.fileSize());
                start = Math.min(start, s.physicalAddress());
                end = Math.max(end, s.physicalAddress() + s.memorySize());
            }
            entry = elf.entry();
        }
        if (entry >= 1L << 32) {
            throw new BootException(String.format("kernel entry point 0x%x is above 4 GiB", entry));
        }
        writeInfo(memory, cmdline);
        return new LoadedKernel(entry, INFO_ADDR, start, end);
    }

    /** Refuses an image that is not wholly in RAM or that would overwrite the boot information. */
    private static void place(GuestMemory memory, long addr, long size, String what) {
        if (memory.layout().rangeOf(addr, size) == null) {
            throw new BootException(String.format("%s at 0x%x-0x%x does not fit in guest RAM (%d MiB)",
                    what, addr, addr + size, memory.layout().ramSize() >> 20));
        }
        if (addr < INFO_AREA_END && addr + size > INFO_AREA_START) {
            throw new BootException(String.format("%s at 0x%x-0x%x overlaps the boot information area",
                    what, addr, addr + size));
        }
    }

    private static void writeInfo(GuestMemory memory, String cmdline) {
        byte[] cmd = cmdline.getBytes(StandardCharsets.UTF_8);
        if (cmd.length > CMDLINE_MAX) {
            throw new BootException("kernel command line is longer than " + CMDLINE_MAX + " bytes");
        }
        memory.zero(INFO_AREA_START, INFO_AREA_END - INFO_AREA_START);
        memory.write(CMDLINE_ADDR, cmd);
        memory.write(LOADER_NAME_ADDR, "Ferry\0".getBytes(StandardCharsets.US_ASCII));

        MemoryLayout layout = memory.layout();
        List<MemoryMapEntry> map = layout.firmwareMap();
        ByteBuffer mmap = ByteBuffer.allocate(map.size() * 24).order(ByteOrder.LITTLE_ENDIAN);
        for (MemoryMapEntry e : map) {
            // Each entry's size field does not count itself (spec 3.3).
            mmap.putInt(20).putLong(e.base()).putLong(e.length()).putInt(e.type().code());
        }
        memory.write(MMAP_ADDR, mmap.array());

        long lowEnd = layout.ranges().get(0).end();
        ByteBuffer info = ByteBuffer.allocate(INFO_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        info.putInt(0, INFO_MEMORY | INFO_CMDLINE | INFO_MMAP | INFO_LOADER_NAME);
        info.putInt(4, (int) (MemoryLayout.CONVENTIONAL_END / 1024));
        info.putInt(8, (int) ((lowEnd - MemoryLayout.EXTENDED_START) / 1024));
        info.putInt(16, (int) CMDLINE_ADDR);
        info.putInt(44, mmap.capacity());
        info.putInt(48, (int) MMAP_ADDR);
        info.putInt(64, (int) LOADER_NAME_ADDR);
        memory.write(INFO_ADDR, info.array());
    }
}
