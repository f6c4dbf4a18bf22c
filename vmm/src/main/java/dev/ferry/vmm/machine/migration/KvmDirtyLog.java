package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.ram.DirtyLog;
import dev.ferry.vmm.hypervisor.VirtualMachine;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.RamRange;

import java.util.List;

/**
 * KVM's dirty log behind the migration engine's {@link DirtyLog}: start re-registers every RAM
 * slot with KVM_MEM_LOG_DIRTY_PAGES (api.rst 4.35: flags of an existing slot may change), fetch
 * calls KVM_GET_DIRTY_LOG per slot and joins the bitmaps in {@link RamPages}' page numbering
 * (slot i's pages follow slot i-1's), stop removes the flag again.
 */
public final class KvmDirtyLog implements DirtyLog {

    private final VirtualMachine vm;
    private final GuestRam ram;
    private final List<RamRange> ranges;

    public KvmDirtyLog(VirtualMachine vm, GuestRam ram) {
        this.vm = vm;
        this.ram = ram;
        this.ranges = ram.layout().ranges();
    }

    @Override
    public void start() {
        setLogging(true);
        fetchAndClear();    // begin with a clean slate: only writes from now on count
    }

    @Override
    public long[] fetchAndClear() {
        long pages = ram.layout().ramSize() / MemoryLayout.PAGE_SIZE;
        long[] out = new long[(int) ((pages + 63) / 64)];
        for (int slot = 0; slot < ranges.size(); slot++) {
            RamRange r = ranges.get(slot);
            long[] bits = vm.fetchDirtyLog(slot, r.size());
            // Ranges start at 2 MiB multiples of the RAM file (MemoryLayout), so each slot's
            // bitmap starts on a whole word of the joined one.
            int firstWord = (int) (r.fileOffset() / MemoryLayout.PAGE_SIZE / 64);
            System.arraycopy(bits, 0, out, firstWord, Math.min(bits.length, out.length - firstWord));
        }
        return out;
    }

    @Override
    public void stop() {
        setLogging(false);
    }

    private void setLogging(boolean on) {
        for (int slot = 0; slot < ranges.size(); slot++) {
            RamRange r = ranges.get(slot);
            vm.mapMemory(slot, r.guestPhysicalAddress(), r.size(), ram.hostAddress(r), on);
        }
    }
}
