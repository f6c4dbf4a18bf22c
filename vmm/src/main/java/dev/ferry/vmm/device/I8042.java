package dev.ferry.vmm.device;

/**
 * The part of the i8042 keyboard controller that a PC guest uses to reset the machine: command
 * 0xFE to port 0x64 pulses the CPU reset line. Data port 0x60 and status port 0x64; no keyboard
 * is attached, so the status never reports data.
 */
public final class I8042 implements IoDevice {

    public static final int DATA_PORT = 0x60;
    public static final int COMMAND_PORT = 0x64;

    static final int COMMAND_OFFSET = COMMAND_PORT - DATA_PORT;
    static final int CMD_PULSE_RESET = 0xFE;
    /** Status: system flag set (POST passed), input buffer empty, no output data. */
    static final int STATUS_SYSTEM_FLAG = 0b0000_0100;

    private final PlatformEvents events;

    public I8042(PlatformEvents events) {
        this.events = events;
    }

    @Override
    public long read(long offset, int size) {
        return offset == COMMAND_OFFSET ? STATUS_SYSTEM_FLAG : 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset == COMMAND_OFFSET && (value & 0xFF) == CMD_PULSE_RESET) {
            events.guestReset("i8042 reset command");
        }
    }
}
