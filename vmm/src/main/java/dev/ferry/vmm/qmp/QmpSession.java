package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.migration.MigrationController;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;

import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * One monitor connection's protocol state (qmp-spec.rst): the greeting, capabilities
 * negotiation, then commands executed one at a time in arrival order, so replies leave in
 * request order. Commands run on the machine's control thread; events reach the connection only
 * after negotiation. Requests wait in a bounded queue: when it is full the connection stops
 * reading (as QEMU suspends a monitor), so a flooding client slows only itself.
 */
public final class QmpSession extends SimpleChannelInboundHandler<QmpInbound> implements QmpCall {

    /** QEMU allows 8 queued requests per monitor (QMP_REQ_QUEUE_LEN_MAX); Ferry a few more. */
    public static final int MAX_QUEUED = 16;

    static final String CAPABILITIES = "qmp_capabilities";
    private static final List<QmpArgument> CAPABILITIES_ARGS = List.of(QmpArgument.optional("enable",
            new QmpType.ArrayOf(new QmpType.Enum("QMPCapability", List.of("oob")))));

    private final QmpServerInfo info;
    private final QmpCommands commands;
    private final Machine machine;
    private final QmpFdStore fds;
    private final QmpEventBus events;
    private final QmpFdSets fdSets;
    private final MigrationController migration;
    private final ArrayDeque<QmpInbound> queue = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private boolean busy;
    private volatile boolean negotiated;

    public QmpSession(QmpServerInfo info, QmpCommands commands, Machine machine, QmpFdStore fds, QmpEventBus events,
                      QmpFdSets fdSets, MigrationController migration) {
        this.migration = migration;
        this.fdSets = fdSets;
        this.info = info;
        this.commands = commands;
        this.machine = machine;
        this.fds = fds;
        this.events = events;
    }

    @Override
    public Machine machine() {
        return machine;
    }

    @Override
    public QmpFdStore fds() {
        return fds;
    }

    @Override
    public QmpCommands commands() {
        return commands;
    }

    @Override
    public QmpFdSets fdSets() {
        return fdSets;
    }

    @Override
    public MigrationController migration() {
        return migration;
    }

    boolean negotiated() {
        return negotiated;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        ctx.writeAndFlush(info.greeting());
        events.subscribe(this);
        ctx.fireChannelActive();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        events.unsubscribe(this);
        fds.closeAll();
        ctx.fireChannelInactive();
    }

    /** An event for this connection; dropped before negotiation or while the client is not reading. */
    void event(ObjectNode event) {
        ChannelHandlerContext c = ctx;
        if (!negotiated || c == null) {
            return;
        }
        if (!c.channel().isWritable() || fds.backlogged()) {
            events.dropped(this);
            return;
        }
        c.writeAndFlush(event);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, QmpInbound msg) {
        queue.addLast(msg);
        if (queue.size() >= MAX_QUEUED) {
            ctx.channel().config().setAutoRead(false);
        }
        drain();
    }

    /** Runs queued inputs until one is waiting for the machine. Event-loop thread only. */
    private void drain() {
        while (!busy && !queue.isEmpty()) {
            QmpInbound next = queue.pollFirst();
            if (queue.size() < MAX_QUEUED / 2 && !ctx.channel().config().isAutoRead()) {
                ctx.channel().config().setAutoRead(true);
            }
            if (next instanceof QmpInbound.Rejected r) {
                ctx.writeAndFlush(r.reply());
                continue;
            }
            QmpInbound.Request req = (QmpInbound.Request) next;
            CompletableFuture<JsonNode> result = dispatch(req);
            // A command that ran on the control thread may have emitted events, queued as
            // event-loop tasks; its reply is queued behind them, so events precede the reply
            // as in QEMU. Only inline results (computed right here) are written at once.
            if (result.isDone() && !ranOnControlThread) {
                ctx.writeAndFlush(reply(req, result));
            } else {
                busy = true;
                result.whenComplete((r, t) -> ctx.executor().execute(() -> {
                    busy = false;
                    ctx.writeAndFlush(reply(req, result));
                    drain();
                }));
            }
        }
    }

    /** Set by dispatch when the command was handed to the machine's control thread. */
    private boolean ranOnControlThread;

    private CompletableFuture<JsonNode> dispatch(QmpInbound.Request req) {
        ranOnControlThread = false;
        try {
            if (req.outOfBand()) {
                // Out-of-band execution is not offered (not in the greeting's capabilities).
                throw new QmpException("QMP input member 'exec-oob' is unexpected");
            }
            if (!negotiated) {
                if (!req.command().equals(CAPABILITIES)) {
                    throw new QmpException(QmpErrorClass.CommandNotFound,
                            "Expecting capabilities negotiation with 'qmp_capabilities'");
                }
                QmpArguments.validate(CAPABILITIES_ARGS, req.arguments());
                if (req.arguments().has("enable") && !req.arguments().get("enable").isEmpty()) {
                    throw new QmpException("Capability 'oob' not available");
                }
                negotiated = true;
                return CompletableFuture.completedFuture(QmpMessages.object());
            }
            if (req.command().equals(CAPABILITIES)) {
                throw new QmpException(QmpErrorClass.CommandNotFound,
                        "Capabilities negotiation is already complete, command ignored");
            }
            QmpCommand command = commands.get(req.command());
            if (command == null) {
                throw new QmpException(QmpErrorClass.CommandNotFound,
                        "The command " + req.command() + " has not been found");
            }
            QmpArguments.validate(command.arguments(), req.arguments());
            if (command.onConnectionThread()) {
                return CompletableFuture.completedFuture(command.execute(this, req.arguments()));
            }
            ranOnControlThread = true;
            return machine.onControlThread(() -> command.execute(this, req.arguments()));
        } catch (QmpException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static ObjectNode reply(QmpInbound.Request req, CompletableFuture<JsonNode> result) {
        try {
            return QmpMessages.success(result.join(), req.id());
        } catch (CompletionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof QmpException q) {
                return QmpMessages.error(q.errorClass(), q.getMessage(), req.id());
            }
            Log.error("QMP command " + req.command() + " failed: " + cause);
            return QmpMessages.error(QmpErrorClass.GenericError,
                    "internal error in " + req.command() + ": " + cause, req.id());
        }
    }
}
