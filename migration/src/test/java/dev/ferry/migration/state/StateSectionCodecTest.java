package dev.ferry.migration.state;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StateSectionCodecTest {

    /** A device state as a writer of version 2 has it. */
    record UartV2(int ier, int lcr, byte[] rxFifo, boolean fifoEnabled) {}

    /** The same device as a reader of version 1 knew it: no fifoEnabled. */
    record UartV1(int ier, int lcr, byte[] rxFifo) {}

    private static byte[] json(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void roundTripsAStateRecordWithSubsections() throws Exception {
        UartV2 state = new UartV2(1, 3, new byte[] {9, 8}, true);
        StateSection s = new StateSection("serial0", 2, 1, StateSectionCodec.stateOf(state),
                Map.of("scratch", new ObjectMapper().readTree("{\"scr\": 5}")));
        StateSection back = StateSectionCodec.decode(StateSectionCodec.encode(s), "serial0", 2);
        UartV2 decoded = StateSectionCodec.stateAs(back, UartV2.class);
        assertEquals(1, decoded.ier());
        assertArrayEquals(new byte[] {9, 8}, decoded.rxFifo());
        assertEquals(5, back.subsections().get("scratch").get("scr").asInt());
    }

    @Test
    void anOlderReaderLoadsANewerStateWhoseMinimumItMeets() throws Exception {
        byte[] v2 = StateSectionCodec.encode(new StateSection("serial0", 2, 1,
                StateSectionCodec.stateOf(new UartV2(1, 3, new byte[0], true)), Map.of()));
        UartV1 old = StateSectionCodec.stateAs(StateSectionCodec.decode(v2, "serial0", 1), UartV1.class);
        assertEquals(3, old.lcr());
    }

    @Test
    void aNewerReaderFillsAbsentOptionalFieldsWithDefaults() throws Exception {
        byte[] v1 = json("{\"section\": \"serial0\", \"version\": 1, \"minimum_version\": 1, "
                + "\"state\": {\"ier\": 1, \"lcr\": 3}}");
        UartV2 s = StateSectionCodec.stateAs(StateSectionCodec.decode(v1, "serial0", 2), UartV2.class);
        assertEquals(false, s.fifoEnabled());
        assertEquals(3, s.lcr());
    }

    @Test
    void refusesWhatItCannotLoadWithAClearReason() {
        byte[] tooNew = json("{\"section\": \"serial0\", \"version\": 5, \"minimum_version\": 4, \"state\": {}}");
        assertEquals("serial0: state version 5 needs a reader of version 4 or newer; this Ferry reads up to version 2",
                assertThrows(StateException.class, () -> StateSectionCodec.decode(tooNew, "serial0", 2)).getMessage());
        assertTrue(assertThrows(StateException.class, () -> StateSectionCodec.decode(json("{\"section\": \"fw_cfg\", "
                + "\"version\": 1, \"minimum_version\": 1, \"state\": {}}"), "serial0", 1)).getMessage()
                .contains("expected state section 'serial0'"));
        assertTrue(assertThrows(StateException.class, () -> StateSectionCodec.decode(json("[1]"), "serial0", 1))
                .getMessage().contains("not a JSON object"));
        assertTrue(assertThrows(StateException.class, () -> StateSectionCodec.decode(json("{\"sect"), "serial0", 1))
                .getMessage().contains("not valid JSON"));
        assertTrue(assertThrows(StateException.class, () -> StateSectionCodec.decode(json("{\"section\": \"serial0\", "
                + "\"version\": \"2\", \"minimum_version\": 1, \"state\": {}}"), "serial0", 2)).getMessage()
                .contains("'version' must be an integer"));
        assertTrue(assertThrows(StateException.class, () -> StateSectionCodec.decode(json("{\"section\": \"serial0\", "
                + "\"version\": 1, \"minimum_version\": 2, \"state\": {}}"), "serial0", 2)).getMessage()
                .contains("inconsistent versions"));
        assertTrue(assertThrows(StateException.class, () -> StateSectionCodec.stateAs(new StateSection("serial0", 1, 1,
                StateSectionCodec.stateOf(Map.of("ier", "not a number")), Map.of()), UartV2.class)).getMessage()
                .contains("does not fit UartV2"));
    }
}
