package dev.ferry.vmm.device;

import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayDeque;

/**
 * A 16550A UART as seen by the guest at eight register offsets (PC16550D datasheet, table II).
 * Transmission is instantaneous: the transmitter is always empty. Received bytes queue in a
 * 16-byte-like FIFO (unbounded here, the host side is the only producer).
 */
public final class Serial16550 implements IoDevice, Persistent<SerialState> {

    // Register offsets (DLAB = 0 unless noted).
    static final int RBR_THR = 0;     // receive buffer / transmit holding; DLL when DLAB = 1
    static final int IER = 1;         // interrupt enable; DLM when DLAB = 1
    static final int IIR_FCR = 2;     // interrupt identification (read) / FIFO control (write)
    static final int LCR = 3;         // line control
    static final int MCR = 4;         // modem control
    static final int LSR = 5;         // line status
    static final int MSR = 6;         // modem status
    static final int SCR = 7;         // scratch

    static final int IER_RDA_BIT = 0b0000_0001;   // received data available
    static final int IER_THRE_BIT = 0b0000_0010;  // transmitter holding register empty
    static final int IER_MASK = 0b0000_1111;

    static final int IIR_NONE = 0b0000_0001;      // no interrupt pending
    static final int IIR_THRE = 0b0000_0010;
    static final int IIR_RDA = 0b0000_0100;
    static final int IIR_FIFO_ENABLED = 0b1100_0000;

    static final int FCR_FIFO_ENABLE = 0b0000_0001;
    static final int FCR_CLEAR_RX = 0b0000_0010;

    static final int LCR_DLAB_BIT = 0b1000_0000;

    static final int MCR_LOOPBACK_BIT = 0b0001_0000;

    static final int LSR_DATA_READY = 0b0000_0001;
    static final int LSR_THR_EMPTY = 0b0010_0000;
    static final int LSR_TRANSMITTER_IDLE = 0b0100_0000;

    // With the modem lines "connected": CTS, DSR and DCD asserted.
    static final int MSR_DEFAULT = 0b1011_0000;

    private final OutputStream sink;
    private final InterruptLine interrupt;
    private final ArrayDeque<Byte> rxFifo = new ArrayDeque<>();

    private int ier;
    private int lcr = 0b0000_0011;    // 8N1, as firmware usually leaves it
    private int mcr = 0b0000_1000;    // OUT2 set
    private int scr;
    private int divisor = 12;         // 9600 baud from the 1.8432 MHz clock
    private boolean fifoEnabled;
    private boolean thrEmptyPending;

    public Serial16550(OutputStream sink, InterruptLine interrupt) {
        this.sink = sink;
        this.interrupt = interrupt;
    }

    /** Bytes from the host side (a terminal) for the guest to read. */
    public synchronized void receive(byte[] bytes) {
        for (byte b : bytes) {
            rxFifo.add(b);
        }
        updateInterrupt();
    }

    @Override
    public synchronized long read(long offset, int size) {
        boolean dlab = (lcr & LCR_DLAB_BIT) != 0;
        return switch ((int) offset) {
            case RBR_THR -> dlab ? divisor & 0xFF : readReceived();
            case IER -> dlab ? (divisor >>> 8) & 0xFF : ier;
            case IIR_FCR -> readInterruptIdentification();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> (rxFifo.isEmpty() ? 0 : LSR_DATA_READY) | LSR_THR_EMPTY | LSR_TRANSMITTER_IDLE;
            case MSR -> (mcr & MCR_LOOPBACK_BIT) != 0 ? loopbackModemStatus() : MSR_DEFAULT;
            case SCR -> scr;
            default -> 0xFF;
        };
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) (value & 0xFF);
        boolean dlab = (lcr & LCR_DLAB_BIT) != 0;
        switch ((int) offset) {
            case RBR_THR -> {
                if (dlab) {
                    divisor = (divisor & 0xFF00) | v;
                } else {
                    transmit(v);
                }
            }
            case IER -> {
                if (dlab) {
                    divisor = (divisor & 0x00FF) | (v << 8);
                } else {
                    // Enabling THRE with an empty transmitter raises the interrupt at once.
                    if ((v & IER_THRE_BIT) != 0 && (ier & IER_THRE_BIT) == 0) {
                        thrEmptyPending = true;
                    }
                    ier = v & IER_MASK;
                }
            }
            case IIR_FCR -> {
                fifoEnabled = (v & FCR_FIFO_ENABLE) != 0;
                if ((v & FCR_CLEAR_RX) != 0) {
                    rxFifo.clear();
                }
            }
            case LCR -> lcr = v;
            case MCR -> mcr = v & 0x1F;
            case SCR -> scr = v;
            default -> { /* LSR and MSR are read-only */ }
        }
        updateInterrupt();
    }

    private void transmit(int b) {
        if ((mcr & MCR_LOOPBACK_BIT) != 0) {
            rxFifo.add((byte) b);
        } else {
            try {
                sink.write(b);
                if (b == '\n') {
                    sink.flush();
                }
            } catch (IOException e) {
                // The guest must not stop because the host side of its console went away.
            }
        }
        thrEmptyPending = true;
    }

    private int readReceived() {
        Byte b = rxFifo.poll();
        updateInterrupt();
        return b == null ? 0 : b & 0xFF;
    }

    private int readInterruptIdentification() {
        int fifoBits = fifoEnabled ? IIR_FIFO_ENABLED : 0;
        if ((ier & IER_RDA_BIT) != 0 && !rxFifo.isEmpty()) {
            return IIR_RDA | fifoBits;
        }
        if ((ier & IER_THRE_BIT) != 0 && thrEmptyPending) {
            // Reading IIR with THRE as the source clears it (datasheet, table IV).
            thrEmptyPending = false;
            updateInterrupt();
            return IIR_THRE | fifoBits;
        }
        return IIR_NONE | fifoBits;
    }

    private int loopbackModemStatus() {
        // In loopback, DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
        int m = mcr;
        return ((m & 0x1) << 5) | ((m & 0x2) << 3) | ((m & 0x4) << 4) | ((m & 0x8) << 4);
    }

    private void updateInterrupt() {
        boolean pending = ((ier & IER_RDA_BIT) != 0 && !rxFifo.isEmpty())
                || ((ier & IER_THRE_BIT) != 0 && thrEmptyPending);
        interrupt.set(pending);
    }

    /** Saved guest-visible state, for migration. */
    @Override
    public synchronized SerialState state() {
        byte[] rx = new byte[rxFifo.size()];
        int i = 0;
        for (Byte b : rxFifo) {
            rx[i++] = b;
        }
        return new SerialState(ier, lcr, mcr, scr, divisor, fifoEnabled, thrEmptyPending, rx);
    }

    @Override
    public synchronized void restore(SerialState s) {
        ier = s.ier();
        lcr = s.lcr();
        mcr = s.mcr();
        scr = s.scr();
        divisor = s.divisor();
        fifoEnabled = s.fifoEnabled();
        thrEmptyPending = s.thrEmptyPending();
        rxFifo.clear();
        for (byte b : s.rxFifo()) {
            rxFifo.add(b);
        }
        updateInterrupt();
    }
}
