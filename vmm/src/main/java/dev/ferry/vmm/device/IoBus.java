package dev.ferry.vmm.device;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * An address space of devices with non-overlapping ranges: used for both port IO (16-bit
 * addresses) and MMIO. Accesses to no device read as all ones (an open bus on a PC) and writes
 * are dropped; each such address is reported once, so a misbehaving guest cannot flood the log.
 */
public final class IoBus {

    private record Mapping(long base, long length, String name, IoDevice device) {
        long end() {
            return base + length;
        }
    }

    static final int MAX_REPORTED = 256;

    private final String kind;
    private final TreeMap<Long, Mapping> byBase = new TreeMap<>();
    private final Map<Long, Boolean> reportedUnknown = new ConcurrentHashMap<>();
    private final Consumer<String> log;

    /** @param kind "port" or "mmio", for messages; @param log sink for guest-misbehaviour notes */
    public IoBus(String kind, Consumer<String> log) {
        this.kind = kind;
        this.log = log;
    }

    public synchronized void register(long base, long length, String name, IoDevice device) {
        if (length <= 0) {
            throw new IllegalArgumentException(name + ": empty " + kind + " range");
        }
        Mapping m = new Mapping(base, length, name, device);
        Map.Entry<Long, Mapping> below = byBase.floorEntry(base + length - 1);
        if (below != null && below.getValue().end() > base) {
            Mapping other = below.getValue();
            throw new IllegalArgumentException(String.format("%s %s range 0x%x-0x%x overlaps %s at 0x%x-0x%x",
                    name, kind, base, base + length - 1, other.name(), other.base(), other.end() - 1));
        }
        byBase.put(base, m);
    }

    private Mapping find(long address) {
        Map.Entry<Long, Mapping> e = byBase.floorEntry(address);
        if (e == null || e.getValue().end() <= address) {
            return null;
        }
        return e.getValue();
    }

    /** Name of the device at {@code address}, or null; for diagnostics and tests. */
    public String deviceAt(long address) {
        Mapping m = find(address);
        return m == null ? null : m.name();
    }

    /**
     * Guest reads {@code count} items of {@code size} bytes from {@code address} into
     * {@code data} (little-endian, as the guest sees memory).
     */
    public void read(long address, int size, int count, ByteBuffer data) {
        Mapping m = find(address);
        for (int i = 0; i < count; i++) {
            long value = m == null ? unknownRead(address, size) : m.device().read(address - m.base(), size);
            putLittleEndian(data, i * size, size, value);
        }
    }

    /** Guest writes {@code count} items of {@code size} bytes from {@code data} to {@code address}. */
    public void write(long address, int size, int count, ByteBuffer data) {
        Mapping m = find(address);
        for (int i = 0; i < count; i++) {
            long value = getLittleEndian(data, i * size, size);
            if (m == null) {
                unknownWrite(address, size, value);
            } else {
                m.device().write(address - m.base(), size, value);
            }
        }
    }

    /**
     * Whether to report an access to an unassigned address: once per address, and for at most
     * {@link #MAX_REPORTED} addresses, so a guest scanning the address space cannot grow this
     * map (or the log) without bound.
     */
    private boolean firstReport(long address) {
        if (reportedUnknown.size() >= MAX_REPORTED) {
            if (reportedUnknown.putIfAbsent(-1L, Boolean.TRUE) == null) {
                log.accept("further accesses to unassigned " + kind + " addresses are not reported");
            }
            return false;
        }
        return reportedUnknown.putIfAbsent(address, Boolean.TRUE) == null;
    }

    private long unknownRead(long address, int size) {
        if (firstReport(address)) {
            log.accept(String.format("guest read %d byte(s) from unassigned %s 0x%x (returning all ones)",
                    size, kind, address));
        }
        return -1L;
    }

    private void unknownWrite(long address, int size, long value) {
        if (firstReport(address)) {
            log.accept(String.format("guest wrote 0x%x (%d byte(s)) to unassigned %s 0x%x (ignored)",
                    value & mask(size), size, kind, address));
        }
    }

    static long mask(int size) {
        return size >= 8 ? -1L : (1L << (size * 8)) - 1;
    }

    static long getLittleEndian(ByteBuffer b, int at, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (b.get(at + i) & 0xFF);
        }
        return v;
    }

    static void putLittleEndian(ByteBuffer b, int at, int size, long value) {
        for (int i = 0; i < size; i++) {
            b.put(at + i, (byte) (value >>> (8 * i)));
        }
    }
}
