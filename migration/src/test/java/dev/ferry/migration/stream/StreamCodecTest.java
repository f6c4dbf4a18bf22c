package dev.ferry.migration.stream;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StreamCodecTest {

    private static byte[] sample() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StreamWriter w = new StreamWriter(Channels.newChannel(bytes));
        w.writeHeader();
        w.writeRecord(RecordType.CONFIG, 0, ByteBuffer.wrap("{\"ram\":1}".getBytes(StandardCharsets.UTF_8)));
        ByteBuffer page = ByteBuffer.allocateDirect(4096);
        page.put(0, (byte) 7);
        w.writeRecord(RecordType.RAM, 0, ByteBuffer.wrap(new byte[] {0, 0, 0, 1}), page);
        w.writeRecord(RecordType.PAGE_STATE, RecordType.PAGE_STATE_RUNS, ByteBuffer.allocate(20));
        w.writeRecord(RecordType.END, 0);
        return bytes.toByteArray();
    }

    private static StreamReader reader(byte[] b) {
        return new StreamReader(Channels.newChannel(new ByteArrayInputStream(b)));
    }

    @Test
    void roundTripsRecordsWithGatheredPayloads() throws Exception {
        StreamReader r = reader(sample());
        r.readHeader();
        Record config = r.next();
        assertEquals(RecordType.CONFIG, config.type());
        assertEquals("{\"ram\":1}", StandardCharsets.UTF_8.decode(config.payload()).toString());
        Record ram = r.next();
        assertEquals(RecordType.RAM, ram.type());
        assertEquals(0, ram.flags());
        assertEquals(4 + 4096, ram.payload().remaining());
        assertEquals(7, ram.payload().get(4));
        Record pageState = r.next();
        assertEquals(RecordType.PAGE_STATE_RUNS, pageState.flags());
        assertEquals(20, pageState.payload().remaining());
        assertEquals(RecordType.END, r.next().type());
        StreamException past = assertThrows(StreamException.class, r::next);
        assertTrue(past.getMessage().contains("past the END"));
    }

    @Test
    void aStagedPayloadGoesOutAsOneRecordAndMustStageWhatItAnnounced() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StreamWriter w = new StreamWriter(Channels.newChannel(bytes));
        w.writeHeader();
        w.writeRecord(RecordType.RAM, 0, new StagedPayload() {
            @Override
            public int length() {
                return 6;
            }

            @Override
            public void stageInto(ByteBuffer staging) {
                staging.putInt(0x01020304).putShort((short) 0x0506);
            }
        });
        StagedPayload liar = new StagedPayload() {
            @Override
            public int length() {
                return 8;
            }

            @Override
            public void stageInto(ByteBuffer staging) {
                staging.putInt(1);
            }
        };
        assertThrows(IllegalStateException.class, () -> w.writeRecord(RecordType.RAM, 0, liar));
        StreamReader r = reader(bytes.toByteArray());
        r.readHeader();
        Record ram = r.next();
        assertEquals(ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6}), ram.payload());
    }

    @Test
    void aFlagTheRecordTypeDoesNotHaveIsRefusedWithItsOffset() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StreamWriter w = new StreamWriter(Channels.newChannel(bytes));
        w.writeHeader();
        w.writeRecord(RecordType.PAGE_STATE, RecordType.PAGE_STATE_RUNS | 4, ByteBuffer.allocate(20));
        StreamReader r = reader(bytes.toByteArray());
        r.readHeader();
        StreamException e = assertThrows(StreamException.class, r::next);
        assertEquals("PAGE_STATE record has flags 0x5 that this Ferry does not know (at stream offset 16)",
                e.getMessage());

        bytes.reset();
        w.writeHeader();
        w.writeRecord(RecordType.RAM, RecordType.PAGE_STATE_RUNS, ByteBuffer.allocate(4));
        StreamReader ram = reader(bytes.toByteArray());
        ram.readHeader();
        assertTrue(assertThrows(StreamException.class, ram::next).getMessage()
                .startsWith("RAM record has flags 0x1 that this Ferry does not know"));

        // A flag flipped in transit is a damaged record: the checksum is checked first.
        bytes.reset();
        w.writeHeader();
        w.writeRecord(RecordType.PAGE_STATE, RecordType.PAGE_STATE_RUNS, ByteBuffer.allocate(20));
        byte[] flipped = bytes.toByteArray();
        flipped[StreamFormat.HEADER_SIZE + 3] ^= 0x04;      // the flags' low byte: 0x1 -> 0x5
        StreamReader damaged = reader(flipped);
        damaged.readHeader();
        assertEquals("PAGE_STATE record checksum mismatch (at stream offset 16)",
                assertThrows(StreamException.class, damaged::next).getMessage());
    }

    @Test
    void theReservedSealedPagesRecordIsRefusedByThisVersion() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StreamWriter w = new StreamWriter(Channels.newChannel(bytes));
        w.writeHeader();
        w.writeRecord(RecordType.SEALED_PAGES, 0, ByteBuffer.allocate(32));
        StreamReader r = reader(bytes.toByteArray());
        r.readHeader();
        assertEquals("SEALED_PAGES record (type 13) is reserved and not allowed in a stream of format 4.0"
                + " (at stream offset 16)", assertThrows(StreamException.class, r::next).getMessage());
        assertTrue(RecordType.SEALED_PAGES.reserved());
        assertEquals(RecordType.SEALED_PAGES, RecordType.of(13));
        assertEquals(1, Arrays.stream(RecordType.values()).filter(RecordType::reserved).count());
    }

    @Test
    void aFlippedByteAnywhereIsACorruptRecord() throws Exception {
        byte[] good = sample();
        for (int i = StreamFormat.HEADER_SIZE; i < good.length; i += 97) {
            byte[] bad = good.clone();
            bad[i] ^= 0x10;
            StreamReader r = reader(bad);
            r.readHeader();
            StreamException e = assertThrows(StreamException.class, () -> {
                while (true) {
                    r.next();
                }
            }, "flip at " + i);
            assertTrue(e.getMessage().contains("checksum") || e.getMessage().contains("unknown record")
                    || e.getMessage().contains("limit") || e.getMessage().contains("ended"), e.getMessage());
        }
    }

    @Test
    void truncationIsReportedWithItsOffset() throws Exception {
        byte[] good = sample();
        byte[] cut = Arrays.copyOf(good, good.length - 10);
        StreamReader r = reader(cut);
        r.readHeader();
        r.next();
        StreamException e = assertThrows(StreamException.class, () -> {
            while (true) {
                r.next();
            }
        });
        assertTrue(e.getMessage().contains("stream ended inside"), e.getMessage());
        assertTrue(e.offset() > StreamFormat.HEADER_SIZE);
    }

    @Test
    void anOversizedLengthIsRefusedBeforeAllocating() throws Exception {
        byte[] good = sample();
        byte[] bad = good.clone();
        // CONFIG's length field, right after the header and the record's type and flags.
        ByteBuffer.wrap(bad).putInt(StreamFormat.HEADER_SIZE + 4, 0x7FFF_FFFF);
        StreamReader r = reader(bad);
        r.readHeader();
        StreamException e = assertThrows(StreamException.class, r::next);
        assertEquals("CONFIG record claims 2147483647 bytes, more than its limit of 65536 (at stream offset 16)",
                e.getMessage());
    }

    @Test
    void wrongMagicOrMajorVersionIsRefused() throws Exception {
        byte[] bad = sample();
        bad[0] = 'X';
        assertTrue(assertThrows(StreamException.class, () -> reader(bad).readHeader()).getMessage().contains("bad magic"));
        byte[] newer = sample();
        ByteBuffer.wrap(newer).putShort(8, (short) (StreamFormat.MAJOR + 1));
        assertTrue(assertThrows(StreamException.class, () -> reader(newer).readHeader()).getMessage()
                .contains("version " + (StreamFormat.MAJOR + 1) + "." + StreamFormat.MINOR + " is not supported"));
        // Format 1 carried vCPU state as JSON: refused at the header, not misread later.
        byte[] older = sample();
        ByteBuffer.wrap(older).putShort(8, (short) 1);
        assertTrue(assertThrows(StreamException.class, () -> reader(older).readHeader()).getMessage()
                .contains("version 1." + StreamFormat.MINOR + " is not supported"));
    }
}
