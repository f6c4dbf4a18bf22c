package dev.ferry.vmm.qmp;

import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.migration.MigrationController;
import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.os.UnixSocket;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalServerChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The QMP monitors of one VMM: any number of unix and TCP listeners sharing one Netty event
 * loop, one event bus and one command registry. Connections beyond {@link #MAX_CONNECTIONS} are
 * closed at once, so a client that opens sockets in a loop cannot exhaust the VMM.
 */
public final class QmpServer implements AutoCloseable {

    public static final int MAX_CONNECTIONS = 64;
    /** Output buffered for one connection before events to it are dropped. */
    static final WriteBufferWaterMark OUTPUT_LIMITS = new WriteBufferWaterMark(64 * 1024, 256 * 1024);

    private final Machine machine;
    private final QmpServerInfo info;
    private final QmpCommands commands;
    private final QmpEventBus events = new QmpEventBus();
    private final QmpFdSets fdSets = new QmpFdSets(LibC::close);
    private final EventLoopGroup loop = new NioEventLoopGroup(1, new DefaultThreadFactory("qmp-io", true));
    private final List<AutoCloseable> listeners = new CopyOnWriteArrayList<>();
    private final Set<Channel> channels = ConcurrentHashMap.newKeySet();
    private final Set<UnixMonitorBridge> bridges = ConcurrentHashMap.newKeySet();
    private final Map<LocalAddress, QmpFdStore> pendingFdStores = new ConcurrentHashMap<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger connectionIds = new AtomicInteger();
    private volatile LocalAddress localHub;
    private final CompletableFuture<Void> firstConnection = new CompletableFuture<>();

    private final MigrationController migration;

    public QmpServer(Machine machine, MigrationController migration, QmpServerInfo info, QmpCommands commands) {
        this.migration = migration;
        migration.addListener(new QmpMigrationEvents(events, migration));
        this.machine = machine;
        this.info = info;
        this.commands = commands;
        machine.addListener(new QmpEvents(events));
    }

    public QmpEventBus events() {
        return events;
    }

    public void listen(MonitorAddress address) throws InterruptedException {
        if (address instanceof MonitorAddress.Unix u) {
            listenUnix(u.path());
        } else {
            listenTcp((MonitorAddress.Tcp) address);
        }
    }

    private boolean admit() {
        if (connections.incrementAndGet() > MAX_CONNECTIONS) {
            connections.decrementAndGet();
            Log.warn("QMP connection refused: " + MAX_CONNECTIONS + " connections are open");
            return false;
        }
        return true;
    }

    private void installPipeline(Channel ch, QmpFdStore fds) {
        channels.add(ch);
        ch.closeFuture().addListener(f -> {
            channels.remove(ch);
            connections.decrementAndGet();
        });
        QmpPipeline.install(ch.pipeline(), info, commands, machine, fds, events, fdSets, migration);
        firstConnection.complete(null);
    }

    /** Completes when the first client has connected to any monitor (for wait=on). */
    public CompletableFuture<Void> firstConnection() {
        return firstConnection;
    }

    private void listenTcp(MonitorAddress.Tcp tcp) throws InterruptedException {
        InetAddress host;
        try {
            host = InetAddress.getByName(tcp.host());
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("QMP: cannot resolve host '" + tcp.host() + "'");
        }
        if (!host.isLoopbackAddress()) {
            if (!tcp.allowRemote()) {
                throw new IllegalArgumentException("QMP on " + tcp.host() + " would be reachable from other "
                        + "machines without authentication; bind to 127.0.0.1 or add allow-remote=on");
            }
            Log.warn("QMP monitor on " + tcp.host() + ":" + tcp.port()
                    + " accepts unauthenticated connections from the network");
        }
        Channel server = new ServerBootstrap()
                .group(loop)
                .channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, OUTPUT_LIMITS)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (!admit()) {
                            ch.close();
                            return;
                        }
                        installPipeline(ch, new QmpFdStore(LibC::close));
                    }
                })
                .bind(new InetSocketAddress(host, tcp.port())).sync().channel();
        listeners.add(() -> server.close().sync());
    }

    /** The in-process hub that unix connections are relayed to (see {@link UnixMonitorBridge}). */
    private synchronized LocalAddress localHub() throws InterruptedException {
        if (localHub == null) {
            LocalAddress address = new LocalAddress("ferry-qmp-" + ProcessHandle.current().pid());
            Channel hub = new ServerBootstrap()
                    .group(loop)
                    .channel(LocalServerChannel.class)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, OUTPUT_LIMITS)
                    .childHandler(new ChannelInitializer<LocalChannel>() {
                        @Override
                        protected void initChannel(LocalChannel ch) {
                            QmpFdStore fds = pendingFdStores.remove((LocalAddress) ch.remoteAddress());
                            installPipeline(ch, fds);
                        }
                    })
                    .bind(address).sync().channel();
            listeners.add(() -> hub.close().sync());
            localHub = address;
        }
        return localHub;
    }

    private void listenUnix(Path path) throws InterruptedException {
        LocalAddress hub = localHub();
        UnixSocket listener = UnixSocket.listen(path, 16);
        Thread acceptor = new Thread(() -> {
            UnixSocket client;
            while ((client = listener.accept()) != null) {
                if (!admit()) {
                    client.close();
                    continue;
                }
                connectUnix(client, hub);
            }
            listener.close();    // only now: no accept can run on a reused descriptor number
        }, "qmp-accept-" + path.getFileName());
        acceptor.setDaemon(true);
        acceptor.start();
        listeners.add(() -> {
            listener.shutdown();
            Files.deleteIfExists(path);
        });
    }

    private void connectUnix(UnixSocket client, LocalAddress hub) {
        QmpFdStore fds = new QmpFdStore(LibC::close);
        LocalAddress self = new LocalAddress("qmp-unix-" + connectionIds.incrementAndGet());
        UnixMonitorBridge[] holder = new UnixMonitorBridge[1];
        UnixMonitorBridge bridge = new UnixMonitorBridge(client, fds, () -> bridges.remove(holder[0]));
        holder[0] = bridge;
        fds.setBacklogSignal(bridge::backlogged);
        pendingFdStores.put(self, fds);
        new Bootstrap().group(loop).channel(LocalChannel.class)
                .handler(bridge.handler())
                .localAddress(self)
                .connect(hub).addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        pendingFdStores.remove(self);
                        connections.decrementAndGet();
                        client.close();
                        Log.warn("QMP: cannot attach a unix connection: " + f.cause());
                        return;
                    }
                    bridges.add(bridge);
                    bridge.start(f.channel(), "qmp-unix-" + client.fd());
                });
    }

    /**
     * Flushes what the monitors still have to say (the reply to quit, the SHUTDOWN event), then
     * closes every connection and listener.
     */
    @Override
    public void close() {
        try {
            machine.onControlThread(() -> null).get(2, TimeUnit.SECONDS);
            loop.submit(() -> { }).get(2, TimeUnit.SECONDS);
            loop.submit(() -> { }).get(2, TimeUnit.SECONDS);
        } catch (Exception e) {
            Log.debug("QMP flush before close: " + e);
        }
        bridges.forEach(b -> b.drain(1000));
        for (AutoCloseable l : listeners) {
            try {
                l.close();
            } catch (Exception e) {
                Log.debug("closing QMP listener: " + e);
            }
        }
        channels.forEach(Channel::close);
        fdSets.closeAll();
        bridges.forEach(UnixMonitorBridge::close);
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
