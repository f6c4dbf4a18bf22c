package dev.ferry.vmm.device;

import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.PageStateBitmap;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PlatformDevicesTest {

    private final List<String> events = new ArrayList<>();
    private final PlatformEvents platform = new PlatformEvents() {
        @Override
        public void guestReset(String reason) {
            events.add("reset:" + reason);
        }

        @Override
        public void guestPoweroff(String reason) {
            events.add("poweroff:" + reason);
        }

        @Override
        public void debugExit(int status) {
            events.add("exit:" + status);
        }
    };

    @Test
    void debugExitStatusIsQemus() {
        new DebugExit(platform).write(0, 1, 0);
        new DebugExit(platform).write(0, 1, 3);
        assertEquals(List.of("exit:1", "exit:7"), events);
    }

    @Test
    void i8042PulseResetsAndOtherCommandsDoNot() {
        I8042 kbc = new I8042(platform);
        kbc.write(I8042.COMMAND_OFFSET, 1, 0xD1);
        kbc.write(I8042.COMMAND_OFFSET, 1, 0xFE);
        assertEquals(List.of("reset:i8042 reset command"), events);
    }

    @Test
    void systemControlReportsPowerdownOnceAndPerformsActions() {
        SystemControl sc = new SystemControl(platform);
        assertEquals(0, sc.read(SystemControl.REQUESTS, 4));
        sc.requestPowerdown();
        assertEquals(SystemControl.REQUEST_POWERDOWN, sc.read(SystemControl.REQUESTS, 4));
        assertEquals(0, sc.read(SystemControl.REQUESTS, 4));
        sc.write(SystemControl.ACTION, 4, 1);
        sc.write(SystemControl.ACTION, 4, 2);
        assertEquals(List.of("poweroff:guest-shutdown", "reset:guest-reset"), events);
    }

    @Test
    void pageStateChannelMarksRangesAndRejectsBadOnes() {
        MemoryLayout layout = new MemoryLayout(64L << 20);
        PageStateBitmap bitmap = new PageStateBitmap(layout.ramEnd());
        PageStateChannel ch = new PageStateChannel(bitmap, layout, events::add);
        ch.write(PageStateChannel.GPA_LOW, 4, 0x200000);
        ch.write(PageStateChannel.GPA_HIGH, 4, 0);
        ch.write(PageStateChannel.PAGE_COUNT, 4, 4);
        ch.write(PageStateChannel.ATTRIBUTES, 4, 0);          // shared
        assertEquals(PageStateChannel.STATUS_OK, ch.read(PageStateChannel.ATTRIBUTES, 4));
        assertTrue(bitmap.isShared(0x200));
        assertTrue(bitmap.isShared(0x203));
        assertFalse(bitmap.isShared(0x204));
        assertEquals(4, bitmap.sharedCount());

        ch.write(PageStateChannel.PAGE_COUNT, 4, 1);
        ch.write(PageStateChannel.ATTRIBUTES, 4, PageStateChannel.ATTR_ENCRYPTED);   // back to private
        assertFalse(bitmap.isShared(0x200));

        ch.write(PageStateChannel.GPA_HIGH, 4, 1);            // 4 GiB: not RAM in a 64 MiB guest
        ch.write(PageStateChannel.ATTRIBUTES, 4, 0);
        assertEquals(PageStateChannel.STATUS_BAD_RANGE, ch.read(PageStateChannel.ATTRIBUTES, 4));
        ch.write(PageStateChannel.GPA_HIGH, 4, 0);
        ch.write(PageStateChannel.ATTRIBUTES, 4, 1 << 7);
        assertEquals(PageStateChannel.STATUS_BAD_ATTRIBUTES, ch.read(PageStateChannel.ATTRIBUTES, 4));
        ch.write(PageStateChannel.GPA_LOW, 4, 0x200010);       // unaligned
        ch.write(PageStateChannel.ATTRIBUTES, 4, 0);
        assertEquals(PageStateChannel.STATUS_BAD_RANGE, ch.read(PageStateChannel.ATTRIBUTES, 4));
        assertEquals(3, events.size());
        assertEquals(3, bitmap.sharedCount());
    }
}
