package dev.ferry.migration.session;

import dev.ferry.migration.ram.RecordSink;
import dev.ferry.migration.stream.RecordType;
import dev.ferry.migration.stream.StreamException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The payloads of the VCPU, PAGE_STATE, CHANNEL and ERROR records (docs/migration-stream.md).
 * Decoders treat their input as hostile: exact lengths, ranges checked.
 */
public final class Payloads {
    private Payloads() {}

    /**
     * VCPU := index u32 | version u16 | minimum version u16 | state. The state's layout is the
     * VMM's (docs/migration-stream.md, "VCPU state"); the session checks only the index and that
     * this reader meets the minimum version.
     */
    public static ByteBuffer vcpu(int index, int version, int minimumVersion, ByteBuffer state) {
        return ByteBuffer.allocate(8 + state.remaining()).putInt(index).putShort((short) version)
                .putShort((short) minimumVersion).put(state.duplicate()).flip();
    }

    record Vcpu(int index, int version, int minimumVersion, ByteBuffer state) {}

    static Vcpu vcpu(ByteBuffer payload, long offset) throws StreamException {
        if (payload.remaining() < 8) {
            throw new StreamException("VCPU record is shorter than its header (" + payload.remaining() + " bytes)",
                    offset);
        }
        ByteBuffer p = payload.duplicate();
        int index = p.getInt();
        int version = p.getShort() & 0xffff;
        int minimumVersion = p.getShort() & 0xffff;
        if (minimumVersion > version) {
            throw new StreamException("VCPU record for vCPU " + index + " has minimum version " + minimumVersion
                    + " above its version " + version, offset);
        }
        return new Vcpu(index, version, minimumVersion, p.slice());
    }

    /**
     * A PAGE_STATE record as written: its flags and payload. Either every word
     * ({@code page count u64 | ceil(count / 64) words u64}; bit i of word i/64: page i shared),
     * or, with {@link RecordType#PAGE_STATE_RUNS}, runs of equal words
     * ({@code page count u64 | (run length u32 | word u64)*}), whichever is shorter.
     */
    public record PageStates(int flags, ByteBuffer payload) {
        /** Writes the record to {@code sink}. */
        public void writeTo(RecordSink sink) throws IOException {
            sink.write(RecordType.PAGE_STATE, flags, payload);
        }
    }

    /** The shorter encoding of {@code words} (see {@link PageStates}). */
    public static PageStates pageStates(long pageCount, long[] words) {
        int runs = 0;
        for (int i = 0; i < words.length; i = runEnd(words, i)) {
            runs++;
        }
        if ((long) runs * RUN_BYTES >= 8L * words.length) {
            ByteBuffer b = ByteBuffer.allocate(8 + 8 * words.length).putLong(0, pageCount);
            // One bulk copy: a loop of putLong ran interpreted at the switchover (the rehearsal's
            // bitmap is too small to make it hot) and took 0.7 ms for a 4 GiB guest's 128 KiB.
            b.position(8);
            b.asLongBuffer().put(words);
            return new PageStates(0, b.position(0));
        }
        ByteBuffer b = ByteBuffer.allocate(8 + runs * RUN_BYTES).putLong(pageCount);
        for (int i = 0, end; i < words.length; i = end) {
            end = runEnd(words, i);
            b.putInt(end - i).putLong(words[i]);
        }
        return new PageStates(RecordType.PAGE_STATE_RUNS, b.flip());
    }

    private static final int RUN_BYTES = 12;

    /** The index after the run of words equal to {@code words[from]}. */
    private static int runEnd(long[] words, int from) {
        int i = from + 1;
        while (i < words.length && words[i] == words[from]) {
            i++;
        }
        return i;
    }

    /**
     * The bitmap of a PAGE_STATE record with {@code flags}, for a machine of
     * {@code expectedPages}: the count must match, and the words or runs must cover the bitmap
     * exactly (nothing is allocated before the count has matched).
     */
    public static long[] pageStates(ByteBuffer payload, int flags, long expectedPages, long offset)
            throws StreamException {
        if (payload.remaining() < 8) {
            throw new StreamException("PAGE_STATE record is shorter than its page count", offset);
        }
        ByteBuffer p = payload.duplicate();
        long pages = p.getLong();
        if (pages != expectedPages) {
            throw new StreamException("PAGE_STATE record covers " + pages + " pages; this machine has "
                    + expectedPages, offset);
        }
        long words = (pages + 63) / 64;
        if ((flags & RecordType.PAGE_STATE_RUNS) == 0) {
            if (p.remaining() != words * 8) {
                throw new StreamException("PAGE_STATE record has " + p.remaining() + " bytes of bitmap for "
                        + pages + " pages", offset);
            }
            long[] out = new long[(int) words];
            p.asLongBuffer().get(out);      // one bulk copy (see the encoder)
            return out;
        }
        if (p.remaining() % RUN_BYTES != 0) {
            throw new StreamException("PAGE_STATE record's runs take " + p.remaining()
                    + " bytes, not a multiple of " + RUN_BYTES, offset);
        }
        long[] out = new long[(int) words];
        int filled = 0;
        while (p.hasRemaining()) {
            long run = Integer.toUnsignedLong(p.getInt());
            long word = p.getLong();
            if (run == 0 || run > words - filled) {
                throw new StreamException("PAGE_STATE record has a run of " + run + " words after " + filled
                        + " of " + words, offset);
            }
            Arrays.fill(out, filled, filled + (int) run, word);
            filled += (int) run;
        }
        if (filled != words) {
            throw new StreamException("PAGE_STATE record's runs cover " + filled + " of " + words + " words",
                    offset);
        }
        return out;
    }

    /** SYNC and APPLIED := pass u32. */
    public static ByteBuffer pass(int pass) {
        return ByteBuffer.allocate(4).putInt(0, pass);
    }

    static int pass(ByteBuffer payload, RecordType type, long offset) throws StreamException {
        if (payload.remaining() != 4) {
            throw new StreamException(type + " record has " + payload.remaining() + " bytes, not 4", offset);
        }
        return payload.getInt(payload.position());
    }

    /** CHANNEL := session id u64 | index u32 | channel count u32 (the main channel is index 0). */
    record Channel(long session, int index, int count) {}

    static final int MAX_CHANNELS = 256;

    static ByteBuffer channel(Channel c) {
        return ByteBuffer.allocate(16).putLong(c.session()).putInt(c.index()).putInt(c.count()).flip();
    }

    static Channel channel(ByteBuffer payload, long offset) throws StreamException {
        if (payload.remaining() != 16) {
            throw new StreamException("CHANNEL record has " + payload.remaining() + " bytes, expected 16", offset);
        }
        ByteBuffer p = payload.duplicate();
        Channel c = new Channel(p.getLong(), p.getInt(), p.getInt());
        if (c.count() < 1 || c.count() > MAX_CHANNELS || c.index() < 0 || c.index() >= c.count()) {
            throw new StreamException("CHANNEL record names channel " + c.index() + " of " + c.count(), offset);
        }
        return c;
    }

    /** ERROR := the target's reason, UTF-8. */
    static ByteBuffer error(String message) {
        byte[] b = message.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(b.length, 4000);
        return ByteBuffer.wrap(b, 0, n).slice();
    }

    static String error(ByteBuffer payload) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE).decode(payload.duplicate()).toString();
        } catch (CharacterCodingException e) {
            return "(unreadable reason)";
        }
    }

    static byte[] bytes(ByteBuffer payload) {
        byte[] b = new byte[payload.remaining()];
        payload.duplicate().get(b);
        return b;
    }
}
