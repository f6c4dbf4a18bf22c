package dev.ferry.vmm.transport;

import dev.ferry.vmm.os.HostMapping;
import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.os.Memfd;
import dev.ferry.vmm.os.UnixSocket;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A real socketpair: bytes both ways, a memfd handed across and mapped on the other end. */
class UnixSocketChannelTest {

    private static UnixSocketChannel[] pair() {
        int[] sv = UnixSocket.socketPair();
        return new UnixSocketChannel[] {
            new UnixSocketChannel(UnixSocket.of(sv[0]), "test:source"),
            new UnixSocketChannel(UnixSocket.of(sv[1]), "test:target")};
    }

    private static byte[] readFully(UnixSocketChannel ch, int length, boolean direct) throws IOException {
        ByteBuffer b = direct ? ByteBuffer.allocateDirect(length) : ByteBuffer.allocate(length);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new IOException("end of stream after " + b.position() + " bytes");
            }
        }
        byte[] out = new byte[length];
        b.flip().get(out);
        return out;
    }

    @Test
    void aMemfdSentAcrossIsTheSameMemoryOnTheOtherEnd() throws Exception {
        UnixSocketChannel[] p = pair();
        try (UnixSocketChannel source = p[0]; UnixSocketChannel target = p[1];
             Memfd ram = Memfd.create("ferry-fd-pass-test", 0x4000); HostMapping mine = HostMapping.map(ram)) {
            mine.buffer(0x3000, 8).putLong(0, 0x0123456789abcdefL);
            source.writeWithFds(ByteBuffer.wrap("RAM!".getBytes(StandardCharsets.US_ASCII)), ram.fd());
            source.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));

            assertArrayEquals("RAM!".getBytes(StandardCharsets.US_ASCII), readFully(target, 4, true));
            int[] fds = target.takeFds();
            assertEquals(1, fds.length, "one descriptor came with the bytes");
            assertNotEquals(ram.fd(), fds[0], "the target's own copy");
            assertEquals(0, target.takeFds().length, "taken once");
            assertArrayEquals(new byte[] {1, 2, 3}, readFully(target, 3, false));

            try (HostMapping theirs = HostMapping.map(fds[0], 0, 0x4000)) {
                assertEquals(0x0123456789abcdefL, theirs.buffer(0x3000, 8).getLong(0));
                theirs.buffer(0, 8).putLong(0, 42);
                assertEquals(42, mine.buffer(0, 8).getLong(0), "written there, seen here");
            } finally {
                LibC.close(fds[0]);
            }
        }
    }

    @Test
    void bytesGoBothWaysAndFinishedOutputIsTheEndOfTheStream() throws Exception {
        UnixSocketChannel[] p = pair();
        try (UnixSocketChannel a = p[0]; UnixSocketChannel b = p[1]) {
            ByteBuffer direct = ByteBuffer.allocateDirect(2).put(new byte[] {9, 8}).flip();
            assertEquals(3, a.write(new ByteBuffer[] {ByteBuffer.wrap(new byte[] {7}), direct}));
            a.finishOutput();
            assertArrayEquals(new byte[] {7, 9, 8}, readFully(b, 3, false));
            assertEquals(-1, b.read(ByteBuffer.allocate(1)), "end of stream after finishOutput");
            b.write(ByteBuffer.wrap(new byte[] {5}));
            assertArrayEquals(new byte[] {5}, readFully(a, 1, true), "the other direction still works");
            assertEquals(0, b.takeFds().length);
            assertThrows(IllegalArgumentException.class, () -> a.writeWithFds(ByteBuffer.allocate(0), 0));
        }
        assertThrows(IOException.class, () -> p[0].write(ByteBuffer.wrap(new byte[] {1})), "closed");
    }

    @Test
    void aWriteToAGonePeerIsAnIoError() {
        UnixSocketChannel[] p = pair();
        p[1].close();
        IOException e = assertThrows(IOException.class, () -> p[0].write(ByteBuffer.wrap(new byte[] {1})));
        assertEquals("send on test:source failed: EPIPE (Broken pipe) (the peer closed the connection)", e.getMessage());
        p[0].close();
    }
}
