package dev.ferry.vmm.device;

/** The 16550's guest-visible registers and receive FIFO. */
public record SerialState(int ier, int lcr, int mcr, int scr, int divisor, boolean fifoEnabled,
                          boolean thrEmptyPending, byte[] rxFifo) {
    public SerialState {
        rxFifo = rxFifo.clone();
    }

    @Override
    public byte[] rxFifo() {
        return rxFifo.clone();
    }
}
