package dev.ferry.vmm.boot;

import dev.ferry.vmm.testing.ArrayGuestMemory;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MultibootLoaderTest {

    /** A minimal ELF32 with one PT_LOAD segment at 1 MiB holding a Multiboot header and code. */
    static byte[] elf32(int flags, int memsz) {
        ByteBuffer b = ByteBuffer.allocate(0x200).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x464C457F).put(4, (byte) 1).put(5, (byte) 1).put(6, (byte) 1);
        b.putShort(16, (short) 2).putShort(18, (short) 3).putInt(20, 1);
        b.putInt(24, 0x100010);          // e_entry
        b.putInt(28, 52);                // e_phoff
        b.putShort(40, (short) 52).putShort(42, (short) 32).putShort(44, (short) 1);
        // Program header: PT_LOAD offset 0x100, paddr 0x100000, filesz 0x20, memsz.
        b.putInt(52, 1).putInt(56, 0x100).putInt(60, 0x100000).putInt(64, 0x100000)
                .putInt(68, 0x20).putInt(72, memsz).putInt(76, 5).putInt(80, 0x1000);
        b.putInt(0x100, MultibootHeader.MAGIC).putInt(0x104, flags).putInt(0x108, -(MultibootHeader.MAGIC + flags));
        b.put(0x110, (byte) 0xF4);       // hlt
        return b.array();
    }

    @Test
    void loadsSegmentsZeroesBssAndWritesTheInfo() {
        ArrayGuestMemory mem = new ArrayGuestMemory(32L << 20);
        mem.write(0x100020, new byte[] {9, 9, 9});
        MultibootLoader.LoadedKernel k = MultibootLoader.load(elf32(0b11, 0x1000), "mode=selftest", mem);
        assertEquals(0x100010, k.entry());
        assertEquals(0x1000, k.infoAddress());
        assertEquals(MultibootHeader.MAGIC, mem.readInt(0x100000));
        assertEquals((byte) 0xF4, mem.view(0x100010, 1).get(0));
        assertEquals(0, mem.view(0x100020, 1).get(0), "bss is zeroed");
        int flags = mem.readInt(0x1000);
        assertEquals(0x245, flags, "mem, cmdline, mmap and loader name");
        assertEquals(639, mem.readInt(0x1004));
        assertEquals((32 << 10) - 1024, mem.readInt(0x1008));
        byte[] cmd = new byte[14];
        mem.read(mem.readInt(0x1010), cmd);
        assertEquals("mode=selftest\0", new String(cmd, StandardCharsets.US_ASCII));
        int mmapLen = mem.readInt(0x1000 + 44);
        int mmapAddr = mem.readInt(0x1000 + 48);
        assertEquals(3 * 24, mmapLen);
        assertEquals(20, mem.readInt(mmapAddr));
        assertEquals(0x100000, mem.readLong(mmapAddr + 2 * 24 + 4));
        assertEquals(1, mem.readInt(mmapAddr + 2 * 24 + 20));
    }

    @Test
    void refusesImagesWithoutHeaderOrOutsideRam() {
        ArrayGuestMemory mem = new ArrayGuestMemory(16L << 20);
        byte[] noHeader = elf32(0b11, 0x20);
        ByteBuffer.wrap(noHeader).order(ByteOrder.LITTLE_ENDIAN).putInt(0x100, 0);
        assertTrue(assertThrows(BootException.class, () -> MultibootLoader.load(noHeader, "", mem))
                .getMessage().contains("no Multiboot header"));
        byte[] huge = elf32(0b11, 64 << 20);
        assertTrue(assertThrows(BootException.class, () -> MultibootLoader.load(huge, "", mem))
                .getMessage().contains("does not fit in guest RAM"));
        byte[] badChecksum = elf32(0b11, 0x20);
        ByteBuffer.wrap(badChecksum).order(ByteOrder.LITTLE_ENDIAN).putInt(0x108, 1);
        assertThrows(BootException.class, () -> MultibootLoader.load(badChecksum, "", mem));
        assertTrue(assertThrows(BootException.class, () -> MultibootLoader.load(elf32(1 << 3, 0x20), "", mem))
                .getMessage().contains("requires features"));
    }

    @Test
    void elfParserRejectsTruncatedAndLyingFiles() {
        byte[] img = elf32(0b11, 0x20);
        ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN).putInt(56, 0x7FFF_0000);   // segment offset
        assertTrue(assertThrows(BootException.class, () -> ElfFile.parse(img)).getMessage().contains("outside"));
        assertThrows(BootException.class, () -> ElfFile.parse(new byte[10]));
        byte[] notX86 = elf32(0b11, 0x20);
        notX86[18] = 40;
        assertTrue(assertThrows(BootException.class, () -> ElfFile.parse(notX86)).getMessage().contains("not x86"));
    }
}
