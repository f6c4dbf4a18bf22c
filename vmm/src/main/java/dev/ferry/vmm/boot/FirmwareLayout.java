package dev.ferry.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The layout table a Ferry firmware image publishes in its {@code .ferry_layout} ELF section:
 * where the migration helper's region, entry point, mailboxes and secret page are. Read from
 * the image itself, so a different firmware build brings its own layout.
 */
public final class FirmwareLayout {

    private final Map<String, Long> fields;

    private FirmwareLayout(Map<String, Long> fields) {
        this.fields = fields;
    }

    /** The table of {@code image}, or null if the image is not a Ferry firmware (no table). */
    public static FirmwareLayout read(byte[] image, FirmwareAbi abi) {
        if (!ElfFile.looksLikeElf(image)) {
            return null;
        }
        byte[] table = ElfFile.parse(image).sectionData(abi.tableSection());
        if (table == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
        if (table.length < 16 || b.getLong(0) != abi.tableMagic()) {
            throw new BootException("firmware layout table has a bad magic");
        }
        long version = Integer.toUnsignedLong(b.getInt(8));
        if (version != abi.tableVersion()) {
            throw new BootException("firmware layout table version " + version + " is not the supported "
                    + abi.tableVersion());
        }
        Map<String, Long> out = new LinkedHashMap<>();
        for (String name : abi.fieldNames()) {
            int off = abi.fieldOffset(name);
            int size = abi.fieldSize(name);
            if (off < 0 || off + size > table.length) {
                throw new BootException("firmware layout table is too short for field " + name);
            }
            long v = switch (size) {
                case 8 -> b.getLong(off);
                case 4 -> Integer.toUnsignedLong(b.getInt(off));
                case 2 -> Short.toUnsignedLong(b.getShort(off));
                case 1 -> Byte.toUnsignedLong(b.get(off));
                default -> throw new BootException("firmware layout field " + name + " has size " + size);
            };
            out.put(name, v);
        }
        return new FirmwareLayout(out);
    }

    public long field(String name) {
        Long v = fields.get(name);
        if (v == null) {
            throw new IllegalArgumentException("firmware layout has no field " + name);
        }
        return v;
    }

    public Map<String, Long> fields() {
        return Map.copyOf(fields);
    }
}
