package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.ram.MigrationStats;
import dev.ferry.migration.ram.OutgoingMachine;
import dev.ferry.migration.ram.PageBatch;
import dev.ferry.migration.ram.PageBatchException;
import dev.ferry.migration.ram.PageSink;
import dev.ferry.migration.ram.PrecopyEngine;
import dev.ferry.migration.ram.PrecopyParameters;
import dev.ferry.migration.ram.RecordSink;
import dev.ferry.migration.stream.RecordType;
import dev.ferry.vmm.hypervisor.kvm.Kvm;
import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.MachineConfig;
import dev.ferry.vmm.machine.RunState;
import dev.ferry.vmm.machine.SerialConfig;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.testing.KvmAvailability;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The precopy engine on a real guest: KVM's dirty log while the firmware workload rewrites
 * pages, then a whole precopy into a second RAM; with the guest stopped at switchover, the copy
 * must equal the source byte for byte.
 */
@Tag("kvm")
class PrecopyKvmTest {

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    private static Machine start(Kvm kvm, Path serial) throws Exception {
        MachineConfig config = new MachineConfig("src", 64L << 20, 2, null, "",
                List.of(new MachineConfig.FwCfgFile("opt/ferry/cmdline", "mem=16 rate=64 hb=200", null)),
                new SerialConfig.File(serial), false, false, null);
        Machine m = Machine.create(config, kvm);
        m.start().get();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!(Files.exists(serial) && Files.readString(serial).contains("hb=3 "))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("guest did not reach hb=3: " + Files.readString(serial));
            }
            Thread.sleep(20);
        }
        return m;
    }

    @Test
    void theDirtyLogSeesTheWorkloadsPages(@TempDir Path tmp) throws Exception {
        try (Kvm kvm = Kvm.open(); Machine m = start(kvm, tmp.resolve("serial"))) {
            KvmDirtyLog log = m.onControlThread(() -> new KvmDirtyLog(m.switchover().vmOnControlThread(), m.ram())).get();
            m.onControlThread(() -> {
                log.start();
                return null;
            }).get();
            Thread.sleep(300);
            long[] dirty = m.onControlThread(log::fetchAndClear).get();
            m.onControlThread(() -> {
                log.stop();
                return null;
            }).get();
            RamPages pages = new RamPages(m.ram());
            long count = 0;
            long workloadPages = 0;
            byte[] magic = "FERRYPG1".getBytes(StandardCharsets.US_ASCII);
            for (long i = 0; i < pages.pageCount(); i++) {
                if ((dirty[(int) (i >>> 6)] & (1L << i)) != 0) {
                    count++;
                    byte[] head = new byte[8];
                    pages.page(i).get(head);
                    if (java.util.Arrays.equals(head, magic)) {
                        workloadPages++;
                    }
                }
            }
            assertTrue(count > 100, "the workload dirtied pages in 300 ms: " + count);
            assertTrue(workloadPages > 0, "dirty pages include self-describing workload pages");
        }
    }

    @Test
    void aPrecopyOfARunningGuestEqualsTheSourceAtSwitchover(@TempDir Path tmp) throws Exception {
        try (Kvm kvm = Kvm.open(); Machine m = start(kvm, tmp.resolve("serial"));
             GuestRam target = GuestRam.create(new MemoryLayout(64L << 20), "target")) {
            KvmDirtyLog log = m.onControlThread(() -> new KvmDirtyLog(m.switchover().vmOnControlThread(), m.ram())).get();
            RamPages source = new RamPages(m.ram());
            RecordSink sink = (type, flags, parts) -> {
                if (type != RecordType.RAM) {
                    return;
                }
                int n = 0;
                for (ByteBuffer p : parts) {
                    n += p.remaining();
                }
                ByteBuffer all = ByteBuffer.allocate(n);
                for (ByteBuffer p : parts) {
                    all.put(p.duplicate());
                }
                try {
                    PageBatch.apply(all.flip(), new PageSink() {
                        @Override
                        public boolean isRam(long gpa) {
                            return target.layout().rangeOf(gpa, 4096) != null;
                        }

                        @Override
                        public void write(long gpa, ByteBuffer page) {
                            target.view(gpa, 4096).put(page.duplicate());
                        }

                        @Override
                        public void zero(long gpa) {
                            target.zero(gpa, 4096);
                        }
                    });
                } catch (PageBatchException e) {
                    throw new IOException(e);
                }
            };
            OutgoingMachine hooks = new OutgoingMachine() {
                @Override
                public void stopGuest() {
                    m.onControlThread(() -> {
                        m.pauseOnControlThread();
                        return null;
                    }).join();
                }

                @Override
                public void resumeGuest() {
                    m.onControlThread(() -> {
                        m.resumeOnControlThread();
                        return null;
                    }).join();
                }

                @Override
                public void writeFinalState(RecordSink s) {
                }

                @Override
                public void throttle(int percent) {
                }
            };
            // The dirty log is driven from this thread: KVM's dirty-log ioctls may run on any
            // thread while the VM exists, and the control thread is free for stop/resume.
            PrecopyEngine engine = PrecopyEngine.create(source, log, sink, new PrecopyParameters(50, 0, false, 20, 10, 30));
            MigrationStats stats = engine.run(hooks);
            assertEquals(RunState.PAUSED, m.state());
            assertTrue(stats.passes() >= 1, stats.toString());
            for (long i = 0; i < source.pageCount(); i++) {
                ByteBuffer a = source.page(i);
                ByteBuffer b = target.view(source.address(i), 4096);
                if (a.slice().limit(4096).mismatch(b) != -1) {
                    throw new AssertionError("page " + i + " (gpa 0x" + Long.toHexString(source.address(i))
                            + ") differs after precopy; " + stats);
                }
            }
            assertTrue(stats.duplicate() > 0, "zero pages went as markers: " + stats);
        }
    }
}
