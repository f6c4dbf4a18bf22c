package dev.ferry.vmm.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * What the host sees of each of a Ferry process's vCPU threads (named {@code vcpu-N}), from
 * /proc/PID/task/TID (proc(5)): its CPU time, and how often it gave the CPU up by itself.
 */
public final class VcpuThreads {

    /** USER_HZ; 100 on every Linux architecture Ferry runs on (proc(5), "clock ticks"). */
    private static final double TICKS_PER_SECOND = 100.0;

    private VcpuThreads() {
    }

    /**
     * One vCPU thread at one moment. Voluntary context switches: a vCPU whose guest executes HLT
     * blocks in KVM_RUN and counts one; a spinning one is only ever preempted (involuntary),
     * whatever the load of the machine.
     */
    public record Sample(double cpuSeconds, long voluntarySwitches) {
    }

    /** Each vCPU thread of process {@code pid} by name ({@code vcpu-0}, ...). */
    public static Map<String, Sample> sample(long pid) throws IOException {
        Map<String, Sample> vcpus = new TreeMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                String comm = read(task.resolve("comm"));
                String stat = read(task.resolve("stat"));
                String status = read(task.resolve("status"));
                if (comm == null || !comm.startsWith("vcpu-") || stat == null || status == null) {
                    continue;                       // not a vCPU, or it ended meanwhile
                }
                // utime and stime: fields 14 and 15, counted after the parenthesised name.
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
                long voluntary = 0;
                for (String line : status.split("\n")) {
                    if (line.startsWith("voluntary_ctxt_switches:")) {
                        voluntary = Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                    }
                }
                vcpus.put(comm.trim(), new Sample(ticks / TICKS_PER_SECOND, voluntary));
            }
        }
        return vcpus;
    }

    /** The file's text, or null if the thread has ended meanwhile. */
    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException threadEnded) {
            return null;
        }
    }
}
