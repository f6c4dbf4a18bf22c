package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;

/** Writes replies, events and the greeting as QEMU formats them: one line each, CRLF. */
@ChannelHandler.Sharable
public final class QmpResponseEncoder extends MessageToByteEncoder<ObjectNode> {

    @Override
    protected void encode(ChannelHandlerContext ctx, ObjectNode msg, ByteBuf out) {
        out.writeBytes(QmpJsonFormat.line(msg));
    }
}
