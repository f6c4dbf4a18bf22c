package dev.ferry.vmm.device;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Serial16550Test {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final List<Boolean> irq = new ArrayList<>();
    private final Serial16550 uart = new Serial16550(out, irq::add);

    private boolean irqHigh() {
        return !irq.isEmpty() && irq.get(irq.size() - 1);
    }

    @Test
    void transmitsToTheSinkAndAlwaysReportsTheTransmitterEmpty() {
        for (byte b : "hi\n".getBytes(StandardCharsets.US_ASCII)) {
            assertEquals(Serial16550.LSR_THR_EMPTY,
                    uart.read(Serial16550.LSR, 1) & Serial16550.LSR_THR_EMPTY);
            uart.write(Serial16550.RBR_THR, 1, b);
        }
        assertEquals("hi\n", out.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void divisorLatchIsReachedOnlyWithDlab() {
        uart.write(Serial16550.LCR, 1, Serial16550.LCR_DLAB_BIT | 0x03);
        uart.write(Serial16550.RBR_THR, 1, 0x01);   // DLL
        uart.write(Serial16550.IER, 1, 0x00);       // DLM
        assertEquals(0x01, uart.read(Serial16550.RBR_THR, 1));
        uart.write(Serial16550.LCR, 1, 0x03);
        uart.write(Serial16550.RBR_THR, 1, 'x');
        assertEquals("x", out.toString(StandardCharsets.US_ASCII));
        assertEquals(1, uart.state().divisor());
    }

    @Test
    void receivedBytesRaiseDataReadyAndTheInterruptWhenEnabled() {
        uart.write(Serial16550.IER, 1, Serial16550.IER_RDA_BIT);
        assertFalse(irqHigh());
        uart.receive(new byte[] {'a', 'b'});
        assertTrue(irqHigh());
        assertEquals(Serial16550.LSR_DATA_READY, uart.read(Serial16550.LSR, 1) & Serial16550.LSR_DATA_READY);
        assertEquals(Serial16550.IIR_RDA, uart.read(Serial16550.IIR_FCR, 1) & 0x0F);
        assertEquals('a', uart.read(Serial16550.RBR_THR, 1));
        assertEquals('b', uart.read(Serial16550.RBR_THR, 1));
        assertFalse(irqHigh());
        assertEquals(0, uart.read(Serial16550.LSR, 1) & Serial16550.LSR_DATA_READY);
    }

    @Test
    void thrEmptyInterruptIsRaisedOnEnableAndClearedByReadingIir() {
        uart.write(Serial16550.IER, 1, Serial16550.IER_THRE_BIT);
        assertTrue(irqHigh());
        assertEquals(Serial16550.IIR_THRE, uart.read(Serial16550.IIR_FCR, 1) & 0x0F);
        assertFalse(irqHigh());
        assertEquals(Serial16550.IIR_NONE, uart.read(Serial16550.IIR_FCR, 1) & 0x0F);
    }

    @Test
    void loopbackSendsTransmittedBytesBackToTheReceiver() {
        uart.write(Serial16550.MCR, 1, Serial16550.MCR_LOOPBACK_BIT);
        uart.write(Serial16550.RBR_THR, 1, 'z');
        assertEquals(0, out.size());
        assertEquals('z', uart.read(Serial16550.RBR_THR, 1));
    }

    @Test
    void stateRoundTrips() {
        uart.write(Serial16550.SCR, 1, 0x5A);
        uart.receive(new byte[] {7});
        Serial16550 other = new Serial16550(new ByteArrayOutputStream(), InterruptLine.NONE);
        other.restore(uart.state());
        assertEquals(0x5A, other.read(Serial16550.SCR, 1));
        assertEquals(7, other.read(Serial16550.RBR_THR, 1));
    }
}
