package dev.ferry.vmm.device;

/**
 * Like QEMU's isa-debug-exit (default iobase 0x501, iosize 2): a write of {@code value} ends the
 * VMM with exit status {@code (value << 1) | 1}, so a test can tell a guest's verdict from a VMM
 * that died for another reason (which would exit 0 or with a signal).
 */
public final class DebugExit implements IoDevice {

    public static final int DEFAULT_PORT = 0x501;
    public static final int PORT_COUNT = 2;

    private final PlatformEvents events;

    public DebugExit(PlatformEvents events) {
        this.events = events;
    }

    /** The process exit status that a guest write of {@code value} produces. */
    public static int exitStatus(long value) {
        return (int) (((value & 0xFF) << 1) | 1) & 0xFF;
    }

    @Override
    public long read(long offset, int size) {
        return IoBus.mask(size);
    }

    @Override
    public void write(long offset, int size, long value) {
        events.debugExit(exitStatus(value));
    }
}
