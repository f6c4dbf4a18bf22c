package dev.ferry.vmm.qmp;

import com.sun.jna.Memory;
import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.os.NativeException;
import dev.ferry.vmm.os.UnixSocket;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Carries one unix-socket monitor connection to its Netty pipeline. Netty's domain-socket
 * channels read either bytes or descriptors, never both from one message, while QMP clients
 * attach a descriptor to command bytes (libvirt) or to a lone space (qemu.qmp). So this bridge
 * reads with recvmsg(2), files the descriptors in the connection's {@link QmpFdStore} before
 * passing the bytes on, and relays the bytes over a Netty local channel whose other end carries
 * the QMP pipeline. A writer thread sends replies, so a client that stops reading blocks only
 * its own connection.
 */
final class UnixMonitorBridge {

    static final int READ_CHUNK = 64 * 1024;
    /**
     * Output not yet taken by a slow client beyond which the connection counts as backlogged:
     * the session drops events for it and the bridge stops reading its requests until the
     * client catches up, so a client that never reads costs a bounded amount of memory.
     */
    static final long BACKLOG_LIMIT = 256 * 1024;

    private final UnixSocket socket;
    private final QmpFdStore fds;
    private final BlockingQueue<byte[]> outgoing = new LinkedBlockingQueue<>();
    private final AtomicLong unsent = new AtomicLong();
    private final Runnable onClose;
    private volatile Channel local;
    private volatile boolean closed;
    /** The reader and the writer thread; the last to finish releases the socket. */
    private final AtomicInteger threads = new AtomicInteger(2);

    UnixMonitorBridge(UnixSocket socket, QmpFdStore fds, Runnable onClose) {
        this.socket = socket;
        this.fds = fds;
        this.onClose = onClose;
    }

    /**
     * The handler for the client end of the local channel; installed before it connects, so
     * that the greeting, sent as soon as the pipeline is active, is not missed.
     */
    ChannelInboundHandlerAdapter handler() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf buf = (ByteBuf) msg;
                byte[] bytes = new byte[buf.readableBytes()];
                buf.readBytes(bytes);
                buf.release();
                unsent.addAndGet(bytes.length);
                outgoing.add(bytes);
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                close();
            }
        };
    }

    /** Starts relaying once {@code connected} (the client end of the local channel) is up. */
    void start(Channel connected, String name) {
        this.local = connected;
        Thread reader = new Thread(this::readLoop, name + "-read");
        reader.setDaemon(true);
        reader.start();
        Thread writer = new Thread(this::writeLoop, name + "-write");
        writer.setDaemon(true);
        writer.start();
    }

    /** True while the client is behind on reading its output. */
    boolean backlogged() {
        return unsent.get() > BACKLOG_LIMIT;
    }

    private void readLoop() {
        Memory buffer = new Memory(READ_CHUNK);
        try {
            while (!closed) {
                while (backlogged() && !closed) {
                    Thread.sleep(1);        // a client that does not read gets no more service
                }
                UnixSocket.Received r = socket.receive(buffer, READ_CHUNK);
                // Descriptors first: a getfd in these very bytes must find its descriptor.
                r.fds().forEach(fds::received);
                if (r.length() == 0) {
                    break;
                }
                ByteBuf bytes = Unpooled.wrappedBuffer(buffer.getByteArray(0, r.length()));
                while (!local.isWritable() && local.isActive()) {
                    Thread.sleep(1);        // the session stopped reading: its queue is full
                }
                local.writeAndFlush(bytes);
            }
        } catch (NativeException e) {
            Log.debug("QMP unix connection: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            close();
            threadDone();
        }
    }

    private void threadDone() {
        if (threads.decrementAndGet() == 0) {
            socket.close();
        }
    }

    /** The writer thread's native send buffer, grown as needed and reused (no per-reply allocation). */
    private Memory sendBuffer = new Memory(4096);

    private void writeLoop() {
        try {
            while (!closed) {
                byte[] b = outgoing.poll(100, TimeUnit.MILLISECONDS);
                if (b == null) {
                    continue;
                }
                if (sendBuffer.size() < b.length) {
                    sendBuffer = new Memory(Math.max(b.length, 2 * sendBuffer.size()));
                }
                sendBuffer.write(0, b, 0, b.length);
                boolean sent = socket.sendAll(sendBuffer, b.length);
                unsent.addAndGet(-b.length);
                if (!sent) {
                    break;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            close();
            threadDone();
        }
    }

    /** Sends what is queued (bounded wait), used when the VMM exits after quit. */
    void drain(long timeoutMillis) {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        while (unsent.get() > 0 && !closed && System.nanoTime() < deadline) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    void close() {
        if (closed) {
            return;
        }
        closed = true;
        socket.shutdown();
        Channel l = local;
        if (l != null) {
            l.close();
        }
        onClose.run();
    }
}
