package dev.ferry.vmm.boot;

import dev.ferry.vmm.device.DebugExit;
import dev.ferry.vmm.device.FwCfg;
import dev.ferry.vmm.device.PageStateChannel;
import dev.ferry.vmm.device.SystemControl;
import org.junit.jupiter.api.Test;

import java.io.InputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The device models' register numbers must be the ones the firmware was built with: the
 * generated ferry-layout.properties (from layout.def) is the reference, so a change on either
 * side that is not made on the other fails here instead of in a guest.
 */
class FirmwareAbiTest {

    private final FirmwareAbi abi = FirmwareAbi.get();

    @Test
    void portNumbersMatchTheFirmware() {
        assertEquals(FwCfg.PORT_BASE, abi.constant("FW_CFG_PORT_SEL"));
        assertEquals(FwCfg.PORT_BASE + 1, abi.constant("FW_CFG_PORT_DATA"));
        assertEquals(FwCfg.KEY_NB_CPUS, abi.constant("FW_CFG_NB_CPUS"));
        assertEquals(FwCfg.KEY_FILE_DIR, abi.constant("FW_CFG_FILE_DIR"));
        assertEquals(DebugExit.DEFAULT_PORT, abi.constant("DEBUG_EXIT_PORT"));
        assertEquals(0x3F8, abi.constant("UART_PORT"));
    }

    @Test
    void pageStateAndSystemControlRegistersMatchTheFirmware() {
        assertEquals(PageStateChannel.GPA_LOW, abi.constant("PAGE_STATE_REG_GPA_LO"));
        assertEquals(PageStateChannel.GPA_HIGH, abi.constant("PAGE_STATE_REG_GPA_HI"));
        assertEquals(PageStateChannel.PAGE_COUNT, abi.constant("PAGE_STATE_REG_COUNT"));
        assertEquals(PageStateChannel.ATTRIBUTES, abi.constant("PAGE_STATE_REG_CMD"));
        assertEquals(PageStateChannel.ATTR_ENCRYPTED, abi.constant("PAGE_STATE_ATTR_PRIVATE"));
        assertEquals(PageStateChannel.STATUS_OK, abi.constant("PAGE_STATE_STATUS_OK"));
        assertEquals(SystemControl.REQUESTS, abi.constant("SYSCTL_REG_PENDING"));
        assertEquals(SystemControl.ACTION, abi.constant("SYSCTL_REG_ACTION"));
        assertEquals(SystemControl.REQUEST_POWERDOWN, abi.constant("SYSCTL_REQ_POWERDOWN"));
        assertEquals(SystemControl.ACTION_POWEROFF, abi.constant("SYSCTL_ACTION_POWEROFF"));
        assertEquals(SystemControl.ACTION_RESET, abi.constant("SYSCTL_ACTION_RESET"));
    }

    @Test
    void theEmbeddedFirmwarePublishesItsLayout() throws Exception {
        byte[] image;
        try (InputStream in = getClass().getResourceAsStream(FirmwareAbi.DEFAULT_IMAGE)) {
            assertNotNull(in);
            image = in.readAllBytes();
        }
        FirmwareLayout layout = FirmwareLayout.read(image, abi);
        assertNotNull(layout, "the stub has a .ferry_layout section");
        long base = layout.field("helper_region_base");
        long size = layout.field("helper_region_size");
        assertEquals(0, base % abi.constant("HELPER_REGION_ALIGN"));
        assertEquals(abi.constant("HELPER_REGION_SIZE"), size);
        assertTrue(layout.field("image_end") <= base, "helper region after the image");
        assertTrue(layout.field("workload_base") >= base + size, "workload after the helper region");
        long mailbox = layout.field("mailbox_base");
        assertTrue(mailbox >= base && mailbox + layout.field("mailbox_size") * layout.field("mailbox_count")
                <= base + size, "mailboxes inside the helper region");
        long secret = layout.field("secret_page");
        assertTrue(secret >= base && secret < base + size, "secret page inside the helper region");
        long entry = layout.field("helper_entry");
        assertTrue(entry >= base && entry < base + size, "helper entry inside the helper region");
    }

    @Test
    void aKernelWithoutTheTableHasNoLayout() {
        assertEquals(null, FirmwareLayout.read(new byte[] {1, 2, 3}, abi));
    }
}
