package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.ram.RecordSink;
import dev.ferry.migration.session.Payloads;
import dev.ferry.migration.state.StateSection;
import dev.ferry.migration.state.StateSectionCodec;
import dev.ferry.migration.stream.RecordType;
import dev.ferry.vmm.hypervisor.VcpuState;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * A stopped machine's state as the switchover sends it after the last pages: one VCPU record per
 * vCPU, one DEVICE record per device section, the PAGE_STATE bitmap (docs/migration-stream.md).
 * The rehearsal sends its scratch state through the same code.
 */
record FinalStateRecords(List<VcpuState> vcpus, List<StateSection> devices, long pageCount, long[] pageStates) {

    void writeTo(RecordSink sink) throws IOException {
        for (int i = 0; i < vcpus.size(); i++) {
            sink.write(RecordType.VCPU, Payloads.vcpu(i, VcpuStateCodec.VERSION, VcpuStateCodec.MINIMUM_VERSION,
                    VcpuStateCodec.encode(vcpus.get(i))));
        }
        for (StateSection d : devices) {
            sink.write(RecordType.DEVICE, ByteBuffer.wrap(StateSectionCodec.encode(d)));
        }
        Payloads.pageStates(pageCount, pageStates).writeTo(sink);
    }
}
