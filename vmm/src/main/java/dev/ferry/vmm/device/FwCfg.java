package dev.ferry.vmm.device;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * QEMU's firmware configuration device, traditional (port-IO) interface only (QEMU
 * docs/specs/fw_cfg.rst): a 16-bit selector register at offset 0 and an 8-bit data register at
 * offset 1 (ports 0x510/0x511 on x86). Item 0x19 is the file directory; named files start at
 * 0x20 and are sorted by name, as in current QEMU machine types. Guest writes to the data
 * register are ignored, as QEMU has done since 2.4.
 */
public final class FwCfg implements IoDevice, Persistent<FwCfgState> {

    public static final int PORT_BASE = 0x510;
    public static final int PORT_COUNT = 2;

    static final int SELECTOR = 0;
    static final int DATA = 1;

    public static final int KEY_SIGNATURE = 0x00;
    public static final int KEY_ID = 0x01;
    public static final int KEY_UUID = 0x02;
    public static final int KEY_RAM_SIZE = 0x03;
    public static final int KEY_NOGRAPHIC = 0x04;
    public static final int KEY_NB_CPUS = 0x05;
    public static final int KEY_MACHINE_ID = 0x06;
    public static final int KEY_MAX_CPUS = 0x0f;
    public static final int KEY_FILE_DIR = 0x19;
    public static final int KEY_FILE_FIRST = 0x20;
    /** Selector bits that are flags, not part of the key: 0x4000 write, 0x8000 arch-specific. */
    static final int SELECTOR_WRITE_FLAG = 0x4000;

    /** fw_cfg.rst: a file name is at most 56 bytes including the terminating NUL. */
    public static final int FILE_NAME_MAX = 55;
    /** ID bit 0: the traditional interface. (Bit 1, DMA, is not offered.) */
    static final int ID_TRADITIONAL = 1;

    private final Map<Integer, byte[]> items;
    private final Map<String, byte[]> files;
    private int selector;
    private int offset;

    private FwCfg(Map<Integer, byte[]> items, Map<String, byte[]> files) {
        this.items = items;
        this.files = files;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Contents of a named file, or null; for tests and diagnostics. */
    public synchronized byte[] file(String name) {
        byte[] b = files.get(name);
        return b == null ? null : b.clone();
    }

    @Override
    public synchronized long read(long off, int size) {
        if (off == SELECTOR) {
            return selector;
        }
        // The data register is byte-wide; a wider read returns successive bytes (little-endian).
        long value = 0;
        for (int i = 0; i < size; i++) {
            value |= (long) nextDataByte() << (8 * i);
        }
        return value;
    }

    private int nextDataByte() {
        byte[] item = items.get(selector & ~SELECTOR_WRITE_FLAG);
        if (item == null || offset >= item.length) {
            return 0;
        }
        return item[offset++] & 0xFF;
    }

    @Override
    public synchronized void write(long off, int size, long value) {
        if (off == SELECTOR && size >= 2) {
            selector = (int) (value & 0xFFFF);
            offset = 0;
        } else if (off == SELECTOR) {
            // A byte write of the selector sets its low half (seen from some boot loaders).
            selector = (int) (value & 0xFF);
            offset = 0;
        }
    }

    /** The guest-visible position (selector and offset), for migration. */
    @Override
    public synchronized FwCfgState state() {
        return new FwCfgState(selector, offset);
    }

    @Override
    public synchronized void restore(FwCfgState s) {
        selector = s.selector();
        offset = s.offset();
    }

    /** Collects items and files; {@link #build()} assigns file keys in name order. */
    public static final class Builder {
        private final Map<Integer, byte[]> items = new TreeMap<>();
        private final Map<String, byte[]> files = new TreeMap<>();

        private Builder() {
            items.put(KEY_SIGNATURE, "QEMU".getBytes(StandardCharsets.US_ASCII));
            items.put(KEY_ID, le32(ID_TRADITIONAL));
        }

        public Builder item(int key, byte[] value) {
            if (key >= KEY_FILE_FIRST || key == KEY_FILE_DIR) {
                throw new IllegalArgumentException("fw_cfg key 0x" + Integer.toHexString(key) + " is for files");
            }
            items.put(key, value.clone());
            return this;
        }

        public Builder u16(int key, int value) {
            return item(key, ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) value).array());
        }

        public Builder u64(int key, long value) {
            return item(key, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array());
        }

        public boolean hasFile(String name) {
            return files.containsKey(name);
        }

        public Builder file(String name, byte[] contents) {
            byte[] n = name.getBytes(StandardCharsets.UTF_8);
            if (n.length == 0 || n.length > FILE_NAME_MAX) {
                throw new IllegalArgumentException("fw_cfg file name '" + name + "' must be 1 to "
                        + FILE_NAME_MAX + " bytes");
            }
            if (files.containsKey(name)) {
                throw new IllegalArgumentException("fw_cfg file '" + name + "' is given twice");
            }
            files.put(name, contents.clone());
            return this;
        }

        public FwCfg build() {
            Map<Integer, byte[]> all = new TreeMap<>(items);
            ByteBuffer dir = ByteBuffer.allocate(4 + files.size() * 64).order(ByteOrder.BIG_ENDIAN);
            dir.putInt(files.size());
            int key = KEY_FILE_FIRST;
            for (Map.Entry<String, byte[]> f : files.entrySet()) {
                byte[] name = new byte[56];
                byte[] n = f.getKey().getBytes(StandardCharsets.UTF_8);
                System.arraycopy(n, 0, name, 0, n.length);
                // struct FWCfgFile { be32 size; be16 select; be16 reserved; char name[56]; }
                dir.putInt(f.getValue().length).putShort((short) key).putShort((short) 0).put(name);
                all.put(key, f.getValue());
                key++;
            }
            all.put(KEY_FILE_DIR, dir.array());
            return new FwCfg(all, new TreeMap<>(files));
        }

        private static byte[] le32(int v) {
            return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
        }
    }
}
