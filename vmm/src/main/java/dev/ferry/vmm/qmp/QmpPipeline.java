package dev.ferry.vmm.qmp;

import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.migration.MigrationController;
import io.netty.channel.ChannelPipeline;

/**
 * Assembles a monitor connection's pipeline: bytes → {@link QmpJsonFramer} → JSON texts →
 * {@link QmpRequestDecoder} → requests → {@link QmpSession}; replies and events go out through
 * {@link QmpResponseEncoder}.
 */
public final class QmpPipeline {

    private static final QmpResponseEncoder ENCODER = new QmpResponseEncoder();

    private QmpPipeline() {}

    public static QmpSession install(ChannelPipeline p, QmpServerInfo info, QmpCommands commands, Machine machine,
                                     QmpFdStore fds, QmpEventBus events, QmpFdSets fdSets,
                                     MigrationController migration) {
        QmpSession session = new QmpSession(info, commands, machine, fds, events, fdSets, migration);
        p.addLast("framer", new QmpJsonFramer());
        p.addLast("request-decoder", new QmpRequestDecoder());
        p.addLast("encoder", ENCODER);
        p.addLast("session", session);
        return session;
    }
}
