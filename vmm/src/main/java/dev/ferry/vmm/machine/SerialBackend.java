package dev.ferry.vmm.machine;

import dev.ferry.vmm.log.Log;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.function.Consumer;

/**
 * The host side of the serial port: an output stream for what the guest transmits, and a pump
 * that feeds what the host types to the guest. Losing the host side never stops the guest.
 */
final class SerialBackend implements AutoCloseable {

    private final OutputStream out;
    private final AutoCloseable resource;

    private SerialBackend(OutputStream out, AutoCloseable resource) {
        this.out = out;
        this.resource = resource;
    }

    OutputStream output() {
        return out;
    }

    static SerialBackend open(SerialConfig config, Consumer<byte[]> input) throws IOException {
        if (config instanceof SerialConfig.Stdio) {
            startPump("serial-stdin", System.in, input);
            return new SerialBackend(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 4096), null);
        }
        if (config instanceof SerialConfig.File f) {
            OutputStream o = new BufferedOutputStream(Files.newOutputStream(f.path(), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING), 4096);
            return new SerialBackend(o, o);
        }
        if (config instanceof SerialConfig.UnixSocket u) {
            return u.server() ? listen(u, input) : connect(u, input);
        }
        return new SerialBackend(OutputStream.nullOutputStream(), null);
    }

    private static SerialBackend connect(SerialConfig.UnixSocket u, Consumer<byte[]> input) throws IOException {
        SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(u.path()));
        startPump("serial-socket", Channels.newInputStream(ch), input);
        return new SerialBackend(Channels.newOutputStream(ch), ch);
    }

    /** A listening socket; output goes to the connected client, or nowhere while there is none. */
    private static SerialBackend listen(SerialConfig.UnixSocket u, Consumer<byte[]> input) throws IOException {
        Files.deleteIfExists(u.path());
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(u.path()));
        ClientOutput client = new ClientOutput();
        Thread t = new Thread(() -> {
            while (server.isOpen()) {
                try {
                    SocketChannel ch = server.accept();
                    client.set(ch);
                    pump(Channels.newInputStream(ch), input);
                    client.set(null);
                } catch (IOException e) {
                    return;
                }
            }
        }, "serial-accept");
        t.setDaemon(true);
        t.start();
        return new SerialBackend(client, () -> {
            server.close();
            Files.deleteIfExists(u.path());
        });
    }

    private static void startPump(String name, InputStream in, Consumer<byte[]> input) {
        Thread t = new Thread(() -> pump(in, input), name);
        t.setDaemon(true);
        t.start();
    }

    private static void pump(InputStream in, Consumer<byte[]> input) {
        byte[] buf = new byte[256];
        try {
            int n;
            while ((n = in.read(buf)) > 0) {
                byte[] chunk = new byte[n];
                System.arraycopy(buf, 0, chunk, 0, n);
                input.accept(chunk);
            }
        } catch (IOException e) {
            // Input closed: the guest simply receives nothing more.
        }
    }

    @Override
    public void close() {
        try {
            out.flush();
            if (resource != null) {
                resource.close();
            }
        } catch (Exception e) {
            Log.debug("closing serial backend: " + e);
        }
    }

    /** Writes to whichever client is connected; drops bytes while none is (as QEMU does). */
    private static final class ClientOutput extends OutputStream {
        private volatile SocketChannel channel;

        void set(SocketChannel ch) {
            channel = ch;
        }

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            SocketChannel ch = channel;
            if (ch == null) {
                return;
            }
            try {
                ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            } catch (IOException e) {
                channel = null;
            }
        }
    }
}
