package dev.ferry.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A little-endian x86 ELF image (ELF32 or ELF64), read defensively: every offset and size from
 * the file is checked against the file before use, since a kernel given with -kernel is input.
 * Only what a loader needs: PT_LOAD segments and named sections (System V gABI, ch. 4 and 5).
 */
public final class ElfFile {

    static final int EI_CLASS = 4;
    static final int EI_DATA = 5;
    static final int ELFCLASS32 = 1;
    static final int ELFCLASS64 = 2;
    static final int ELFDATA2LSB = 1;
    static final int EM_386 = 3;
    static final int EM_X86_64 = 62;
    static final int PT_LOAD = 1;
    static final int SHT_NOBITS = 8;

    /** A loadable segment: file bytes at {@code fileOffset}, then zeroes up to {@code memorySize}. */
    public record Segment(long physicalAddress, long fileOffset, long fileSize, long memorySize) {}

    /** A section header: name, address, file range. */
    public record Section(String name, long address, long fileOffset, long size, boolean hasFileData) {}

    private final ByteBuffer file;
    private final boolean is64;
    private final long entry;
    private final List<Segment> segments;
    private final List<Section> sections;

    private ElfFile(ByteBuffer file) {
        this.file = file;
        if (file.limit() < 52 || file.getInt(0) != 0x464C457F) {   // "\x7fELF"
            throw new BootException("not an ELF file");
        }
        int cls = file.get(EI_CLASS);
        if (cls != ELFCLASS32 && cls != ELFCLASS64) {
            throw new BootException("unknown ELF class " + cls);
        }
        if (file.get(EI_DATA) != ELFDATA2LSB) {
            throw new BootException("ELF file is not little-endian");
        }
        is64 = cls == ELFCLASS64;
        int machine = Short.toUnsignedInt(file.getShort(18));
        if (machine != EM_386 && machine != EM_X86_64) {
            throw new BootException("ELF machine " + machine + " is not x86");
        }
        entry = is64 ? file.getLong(24) : Integer.toUnsignedLong(file.getInt(24));
        segments = readSegments();
        sections = readSections();
    }

    public static ElfFile parse(byte[] bytes) {
        return new ElfFile(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN));
    }

    public static boolean looksLikeElf(byte[] bytes) {
        return bytes.length >= 4 && bytes[0] == 0x7F && bytes[1] == 'E' && bytes[2] == 'L' && bytes[3] == 'F';
    }

    public boolean is64Bit() {
        return is64;
    }

    public long entry() {
        return entry;
    }

    public List<Segment> loadSegments() {
        return segments;
    }

    public List<Section> sections() {
        return sections;
    }

    /** The file bytes of section {@code name}, or null if there is no such section with data. */
    public byte[] sectionData(String name) {
        for (Section s : sections) {
            if (s.name().equals(name) && s.hasFileData()) {
                byte[] out = new byte[Math.toIntExact(s.size())];
                file.get(Math.toIntExact(s.fileOffset()), out);
                return out;
            }
        }
        return null;
    }

    /** Copies {@code length} bytes of the file at {@code offset}. */
    public byte[] bytes(long offset, long length) {
        checkRange("data", offset, length);
        byte[] out = new byte[Math.toIntExact(length)];
        file.get(Math.toIntExact(offset), out);
        return out;
    }

    private List<Segment> readSegments() {
        long phoff = is64 ? file.getLong(32) : Integer.toUnsignedLong(file.getInt(28));
        int phentsize = Short.toUnsignedInt(file.getShort(is64 ? 54 : 42));
        int phnum = Short.toUnsignedInt(file.getShort(is64 ? 56 : 44));
        if (phnum == 0) {
            throw new BootException("ELF file has no program headers");
        }
        if (phentsize < (is64 ? 56 : 32)) {
            throw new BootException("ELF program header size " + phentsize + " is too small");
        }
        checkRange("program headers", phoff, (long) phentsize * phnum);
        List<Segment> out = new ArrayList<>();
        for (int i = 0; i < phnum; i++) {
            int at = Math.toIntExact(phoff + (long) i * phentsize);
            if (file.getInt(at) != PT_LOAD) {
                continue;
            }
            long offset;
            long paddr;
            long filesz;
            long memsz;
            if (is64) {
                offset = file.getLong(at + 8);
                paddr = file.getLong(at + 24);
                filesz = file.getLong(at + 32);
                memsz = file.getLong(at + 40);
            } else {
                offset = Integer.toUnsignedLong(file.getInt(at + 4));
                paddr = Integer.toUnsignedLong(file.getInt(at + 12));
                filesz = Integer.toUnsignedLong(file.getInt(at + 16));
                memsz = Integer.toUnsignedLong(file.getInt(at + 20));
            }
            if (filesz > memsz) {
                throw new BootException("ELF segment " + i + " has file size above memory size");
            }
            checkRange("segment " + i, offset, filesz);
            out.add(new Segment(paddr, offset, filesz, memsz));
        }
        if (out.isEmpty()) {
            throw new BootException("ELF file has no loadable segment");
        }
        return List.copyOf(out);
    }

    private List<Section> readSections() {
        long shoff = is64 ? file.getLong(40) : Integer.toUnsignedLong(file.getInt(32));
        int shentsize = Short.toUnsignedInt(file.getShort(is64 ? 58 : 46));
        int shnum = Short.toUnsignedInt(file.getShort(is64 ? 60 : 48));
        int shstrndx = Short.toUnsignedInt(file.getShort(is64 ? 62 : 50));
        if (shoff == 0 || shnum == 0) {
            return List.of();
        }
        if (shentsize < (is64 ? 64 : 40) || shstrndx >= shnum) {
            throw new BootException("ELF section headers are malformed");
        }
        checkRange("section headers", shoff, (long) shentsize * shnum);
        long[][] raw = new long[shnum][];
        for (int i = 0; i < shnum; i++) {
            int at = Math.toIntExact(shoff + (long) i * shentsize);
            long name = Integer.toUnsignedLong(file.getInt(at));
            long type = Integer.toUnsignedLong(file.getInt(at + 4));
            long addr = is64 ? file.getLong(at + 16) : Integer.toUnsignedLong(file.getInt(at + 12));
            long off = is64 ? file.getLong(at + 24) : Integer.toUnsignedLong(file.getInt(at + 16));
            long size = is64 ? file.getLong(at + 32) : Integer.toUnsignedLong(file.getInt(at + 20));
            raw[i] = new long[] {name, type, addr, off, size};
        }
        long strOff = raw[shstrndx][3];
        long strSize = raw[shstrndx][4];
        checkRange("section names", strOff, strSize);
        List<Section> out = new ArrayList<>();
        for (long[] s : raw) {
            boolean hasData = s[1] != SHT_NOBITS && s[1] != 0;
            if (hasData) {
                checkRange("section", s[3], s[4]);
            }
            out.add(new Section(cString(strOff, strSize, s[0]), s[2], s[3], s[4], hasData));
        }
        return List.copyOf(out);
    }

    private String cString(long tableOffset, long tableSize, long index) {
        if (index >= tableSize) {
            throw new BootException("ELF section name index " + index + " is out of range");
        }
        int start = Math.toIntExact(tableOffset + index);
        int end = start;
        int limit = Math.toIntExact(tableOffset + tableSize);
        while (end < limit && file.get(end) != 0) {
            end++;
        }
        byte[] b = new byte[end - start];
        file.get(start, b);
        return new String(b, StandardCharsets.US_ASCII);
    }

    private void checkRange(String what, long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > file.limit() || offset + length < offset) {
            throw new BootException(String.format("ELF %s (offset 0x%x, size 0x%x) lies outside the %d-byte file",
                    what, offset, length, file.limit()));
        }
    }
}
