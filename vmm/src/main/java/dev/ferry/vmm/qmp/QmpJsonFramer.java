package dev.ferry.vmm.qmp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Splits the monitor's byte stream into top-level JSON values, as QEMU's JSON streamer does
 * (qobject/json-streamer.c): no newline is needed between commands, braces and brackets are
 * counted outside strings, and a value ends when its outermost bracket closes (a bare scalar at
 * the top level ends at the next delimiter).
 *
 * <p>Hostile input is bounded as in QEMU — nesting depth 1024, 2^21 tokens per value — plus a
 * size cap per value that is lower than QEMU's 64 MiB (see docs/qmp.md). On any violation, and on
 * the bytes QEMU's lexer rejects outside strings (0xFF, control characters), the partial value is
 * dropped, one {@link JsonInput.Error} is emitted, and framing resumes with the next byte, so
 * the connection stays usable. A client can send 0xFF to force such a reset (qmp-spec.rst,
 * "Forcing the JSON parser into known-good state").
 */
public final class QmpJsonFramer extends ByteToMessageDecoder {

    public static final int MAX_NESTING = 1024;
    public static final int MAX_TOKENS = 1 << 21;
    public static final int MAX_MESSAGE_BYTES = 8 << 20;

    // Scan state, relative to the cumulation's reader index (the start of the current value).
    private int scanned;
    private int depth;
    private int tokens;
    private boolean inString;
    private byte quote;
    private boolean escape;
    private boolean inScalar;
    private boolean started;
    private int stringOffset;

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        int start = in.readerIndex();
        int end = in.writerIndex();
        int i = start + scanned;
        while (i < end) {
            byte b = in.getByte(i);
            if (!started) {
                if (isWhitespace(b)) {
                    in.readerIndex(++i);
                    start = i;
                    continue;
                }
                started = true;
            }
            if (inString && b == (byte) 0xFF) {
                // 0xFF is never valid UTF-8: QEMU's lexer resets even inside a string, which is
                // what makes it the client's way out of any state.
                out.add(new JsonInput.Error("JSON parse error, stray '\uFFFD'"));
                in.readerIndex(++i);
                start = i;
                reset();
                continue;
            }
            if (inString && (b & 0xFF) < 0x20) {
                // RFC 8259 forbids raw control characters in strings; QEMU's lexer reports the
                // string so far as a stray token and starts afresh after the character.
                i++;
                byte[] token = new byte[i - (start + stringOffset)];
                in.getBytes(start + stringOffset, token);
                out.add(new JsonInput.Error("JSON parse error, stray '"
                        + new String(token, StandardCharsets.UTF_8) + "'"));
                in.readerIndex(i);
                start = i;
                reset();
                continue;
            }
            if (inString) {
                if (escape) {
                    escape = false;
                } else if (b == '\\') {
                    escape = true;
                } else if (b == quote) {
                    inString = false;
                    if (depth == 0) {
                        i++;
                        emit(in, start, i, out);
                        start = i;
                        continue;
                    }
                }
                i++;
            } else {
                String error = null;
                boolean endsScalar = inScalar && !isScalarByte(b);
                if (endsScalar) {
                    inScalar = false;
                    if (depth == 0) {
                        emit(in, start, i, out);
                        start = i;
                        continue;       // re-examine b as the first byte of what follows
                    }
                }
                if (isWhitespace(b)) {
                    i++;
                } else if (b == '{' || b == '[') {
                    tokens++;
                    if (++depth > MAX_NESTING) {
                        error = "JSON nesting depth limit exceeded";
                    }
                    i++;
                } else if (b == '}' || b == ']') {
                    tokens++;
                    i++;
                    if (depth == 0) {
                        error = "JSON parse error, expecting value";
                    } else if (--depth == 0) {
                        emit(in, start, i, out);
                        start = i;
                        continue;
                    }
                } else if (b == '"' || b == '\'') {
                    tokens++;
                    inString = true;
                    quote = b;
                    stringOffset = i - start;    // relative: the cumulation may move between calls
                    i++;
                } else if (b == ',' || b == ':') {
                    tokens++;
                    i++;
                    if (depth == 0) {
                        error = "JSON parse error, expecting value";
                    }
                } else if (isScalarByte(b)) {
                    if (!inScalar) {
                        tokens++;
                        inScalar = true;
                    }
                    i++;
                } else {
                    i++;
                    error = "JSON parse error, stray '" + strayText(b) + "'";
                }
                if (error == null && tokens > MAX_TOKENS) {
                    error = "JSON token count limit exceeded";
                }
                if (error != null) {
                    out.add(new JsonInput.Error(error));
                    in.readerIndex(i);
                    start = i;
                    reset();
                    continue;
                }
            }
            if (i - start > MAX_MESSAGE_BYTES) {
                out.add(new JsonInput.Error("JSON token size limit exceeded"));
                in.readerIndex(i);
                start = i;
                reset();
            }
        }
        scanned = i - start;
    }

    private void emit(ByteBuf in, int start, int end, List<Object> out) {
        byte[] text = new byte[end - start];
        in.getBytes(start, text);
        in.readerIndex(end);
        out.add(new JsonInput.Text(text));
        reset();
    }

    private void reset() {
        scanned = 0;
        depth = 0;
        tokens = 0;
        inString = false;
        escape = false;
        inScalar = false;
        started = false;
    }

    private static boolean isWhitespace(byte b) {
        return b == ' ' || b == '\t' || b == '\n' || b == '\r';
    }

    /** Bytes that can make up a number or a keyword (true, false, null, or an invalid word). */
    private static boolean isScalarByte(byte b) {
        return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
                || b == '-' || b == '+' || b == '.' || b == '_';
    }

    /** The stray byte as QEMU quotes it: itself, U+FFFD for a byte that is not UTF-8, nothing for NUL. */
    private static String strayText(byte b) {
        int v = b & 0xFF;
        if (v == 0) {
            return "";
        }
        if (v >= 0x80) {
            return "\uFFFD";
        }
        return String.valueOf((char) v);
    }
}
