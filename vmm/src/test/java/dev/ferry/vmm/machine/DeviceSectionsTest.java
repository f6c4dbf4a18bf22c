package dev.ferry.vmm.machine;

import dev.ferry.migration.state.StateException;
import dev.ferry.migration.state.StateSection;
import dev.ferry.vmm.boot.FirmwareAbi;
import dev.ferry.vmm.device.InterruptLine;
import dev.ferry.vmm.device.PageStateChannel;
import dev.ferry.vmm.device.PlatformEvents;
import dev.ferry.vmm.device.SystemControlState;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.PageStateBitmap;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The platform's sections, one per device in one list: saved, checked and loaded by that list. */
class DeviceSectionsTest {

    private static PlatformDevices devices() {
        MemoryLayout layout = new MemoryLayout(16L << 20);
        MachineConfig config = new MachineConfig("t", 16L << 20, 1, null, "", List.of(), new SerialConfig.Discard(),
                false, false, null);
        PlatformEvents events = new PlatformEvents() {
            @Override
            public void guestReset(String reason) { }

            @Override
            public void guestPoweroff(String reason) { }

            @Override
            public void debugExit(int status) { }
        };
        return new PlatformDevices(FirmwareConfig.build(config, layout), OutputStream.nullOutputStream(),
                InterruptLine.NONE, events, new PageStateBitmap(layout.ramEnd()), layout, FirmwareAbi.get());
    }

    @Test
    void everyListedSectionIsSavedAndLoadedIntoAnotherPlatform() throws StateException {
        PlatformDevices source = devices();
        source.systemControl.requestPowerdown();
        source.pageStateChannel.write(PageStateChannel.GPA_LOW, 4, 0x200000);
        source.serial.receive(new byte[] {'x'});
        List<StateSection> saved = DeviceSections.save(source);
        assertEquals(List.of("serial0", "fw_cfg", "system-control", "page-state-channel"),
                saved.stream().map(StateSection::name).toList());

        PlatformDevices target = devices();
        assertNotEquals(source.pageStateChannel.state(), target.pageStateChannel.state());
        DeviceSections.load(target, saved);
        assertEquals(source.systemControl.state(), target.systemControl.state());
        assertEquals(source.pageStateChannel.state(), target.pageStateChannel.state());
        assertEquals(source.fwCfg.state(), target.fwCfg.state());
        assertEquals(DeviceSections.save(source), DeviceSections.save(target));
        for (StateSection s : saved) {
            assertEquals(1, DeviceSections.version(s.name()));
        }
    }

    @Test
    void anUnknownTwiceOrMissingSectionIsRefusedBeforeAnythingIsLoaded() {
        PlatformDevices source = devices();
        source.systemControl.requestPowerdown();
        List<StateSection> saved = DeviceSections.save(source);
        PlatformDevices target = devices();

        List<StateSection> twice = new ArrayList<>(saved);
        twice.add(saved.get(2));
        assertTrue(assertThrows(StateException.class, () -> DeviceSections.load(target, twice)).getMessage()
                .contains("'system-control' appears twice"));

        List<StateSection> unknown = new ArrayList<>(saved);
        unknown.add(new StateSection("rtc", 1, 1, saved.get(0).state(), Map.of()));
        assertTrue(assertThrows(StateException.class, () -> DeviceSections.load(target, unknown)).getMessage()
                .contains("unknown device section 'rtc'"));
        assertThrows(StateException.class, () -> DeviceSections.version("rtc"));

        List<StateSection> lacking = new ArrayList<>(saved.subList(0, 3));
        assertEquals("the stream lacks device state for page-state-channel",
                assertThrows(StateException.class, () -> DeviceSections.load(target, lacking)).getMessage());

        assertEquals(new SystemControlState(0), target.systemControl.state(),
                "nothing was loaded from a refused stream");
    }
}
