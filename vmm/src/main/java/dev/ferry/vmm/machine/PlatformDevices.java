package dev.ferry.vmm.machine;

import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.boot.FirmwareAbi;
import dev.ferry.vmm.device.DebugExit;
import dev.ferry.vmm.device.FwCfg;
import dev.ferry.vmm.device.I8042;
import dev.ferry.vmm.device.InterruptLine;
import dev.ferry.vmm.device.IoBus;
import dev.ferry.vmm.device.PageStateChannel;
import dev.ferry.vmm.device.PlatformEvents;
import dev.ferry.vmm.device.Serial16550;
import dev.ferry.vmm.device.SystemControl;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.PageStateBitmap;

import java.io.OutputStream;

/** The PC platform devices of a Ferry machine and where they sit on the buses. */
final class PlatformDevices {

    /** COM1 (PC/AT convention) and its interrupt line. */
    static final int COM1_PORT = 0x3F8;
    static final int COM1_IRQ = 4;
    static final int UART_PORT_COUNT = 8;
    static final int I8042_PORT_COUNT = 5;

    final IoBus ports;
    final IoBus mmio;
    final Serial16550 serial;
    final FwCfg fwCfg;
    final SystemControl systemControl;
    final PageStateChannel pageStateChannel;

    PlatformDevices(FwCfg fwCfg, OutputStream serialSink, InterruptLine serialIrq, PlatformEvents events,
                    PageStateBitmap pageStates, MemoryLayout layout, FirmwareAbi abi) {
        this.ports = new IoBus("port", Log::warn);
        this.mmio = new IoBus("mmio", Log::warn);
        this.fwCfg = fwCfg;
        this.serial = new Serial16550(serialSink, serialIrq);
        this.systemControl = new SystemControl(events);
        this.pageStateChannel = new PageStateChannel(pageStates, layout, Log::warn);
        ports.register(COM1_PORT, UART_PORT_COUNT, "serial0", serial);
        ports.register(FwCfg.PORT_BASE, FwCfg.PORT_COUNT, "fw_cfg", fwCfg);
        ports.register(DebugExit.DEFAULT_PORT, DebugExit.PORT_COUNT, "debug-exit", new DebugExit(events));
        ports.register(I8042.DATA_PORT, I8042_PORT_COUNT, "i8042", new I8042(events));
        ports.register(abi.constant("PAGE_STATE_PORT"), PageStateChannel.PORT_COUNT, "page-state", pageStateChannel);
        ports.register(abi.constant("SYSCTL_PORT"), SystemControl.PORT_COUNT, "system-control", systemControl);
    }
}
