package dev.ferry.vmm.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A loopback TCP proxy between a migration source and its target that can damage the stream
 * going forward: change bytes at given offsets, or cut both directions after a number of bytes.
 * The return path (target to source) is relayed unchanged. One connection per proxy.
 */
public final class FaultProxy implements AutoCloseable {

    /** Changes forward bytes: returns the byte to send at {@code offset} instead of {@code b}. */
    @FunctionalInterface
    public interface Damage {
        int apply(long offset, int b);
    }

    private final ServerSocket server;
    private final int targetPort;
    private final Damage damage;
    private final long cutAfter;
    private final AtomicLong forwarded = new AtomicLong();
    private volatile Socket in;
    private volatile Socket out;

    /**
     * @param cutAfter close both connections once this many bytes went forward; -1 never
     */
    public FaultProxy(int targetPort, Damage damage, long cutAfter) throws IOException {
        this.server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        this.targetPort = targetPort;
        this.damage = damage;
        this.cutAfter = cutAfter;
        Thread t = new Thread(this::serve, "fault-proxy");
        t.setDaemon(true);
        t.start();
    }

    public static FaultProxy damaging(int targetPort, Damage damage) throws IOException {
        return new FaultProxy(targetPort, damage, -1);
    }

    public static FaultProxy cutting(int targetPort, long afterBytes) throws IOException {
        return new FaultProxy(targetPort, (o, b) -> b, afterBytes);
    }

    public int port() {
        return server.getLocalPort();
    }

    public long forwarded() {
        return forwarded.get();
    }

    private void serve() {
        try {
            in = server.accept();
            out = new Socket(InetAddress.getLoopbackAddress(), targetPort);
            Thread back = new Thread(() -> pump(out, in, false), "fault-proxy-back");
            back.setDaemon(true);
            back.start();
            pump(in, out, true);
        } catch (IOException e) {
            // closed
        }
    }

    private void pump(Socket from, Socket to, boolean forward) {
        byte[] buf = new byte[64 * 1024];
        try {
            InputStream is = from.getInputStream();
            OutputStream os = to.getOutputStream();
            int n;
            while ((n = is.read(buf)) > 0) {
                if (forward) {
                    long start = forwarded.get();
                    for (int i = 0; i < n; i++) {
                        buf[i] = (byte) damage.apply(start + i, buf[i] & 0xFF);
                    }
                    if (cutAfter >= 0 && start + n >= cutAfter) {
                        os.write(buf, 0, (int) (cutAfter - start));
                        forwarded.addAndGet(cutAfter - start);
                        close();
                        return;
                    }
                    forwarded.addAndGet(n);
                }
                os.write(buf, 0, n);
            }
            to.shutdownOutput();
        } catch (IOException e) {
            close();
        }
    }

    @Override
    public void close() {
        for (AutoCloseable c : new AutoCloseable[] {in, out, server}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                // closing anyway
            }
        }
    }
}
