package dev.ferry.vmm.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * What the host sees of a Ferry process's vCPU threads (named {@code vcpu-N}), from
 * /proc/PID/task/TID (proc(5)): their CPU time, and how often they gave the CPU up by themselves.
 */
public final class VcpuThreads {

    /** USER_HZ; 100 on every Linux architecture Ferry runs on (proc(5), "clock ticks"). */
    private static final double TICKS_PER_SECOND = 100.0;

    private VcpuThreads() {
    }

    /** Seconds of CPU (utime + stime, stat fields 14 and 15) the vCPU threads have used. */
    public static double cpuSeconds(long pid) throws IOException {
        long ticks = 0;
        for (Path task : vcpuTasks(pid)) {
            String stat = read(task.resolve("stat"));
            if (stat != null) {
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
            }
        }
        return ticks / TICKS_PER_SECOND;
    }

    /**
     * Voluntary context switches of the vCPU threads: a vCPU whose guest executes HLT blocks in
     * KVM_RUN and counts one; a spinning one is only ever preempted (involuntary), whatever the
     * load of the machine.
     */
    public static long voluntarySwitches(long pid) throws IOException {
        long switches = 0;
        for (Path task : vcpuTasks(pid)) {
            String status = read(task.resolve("status"));
            if (status != null) {
                for (String line : status.split("\n")) {
                    if (line.startsWith("voluntary_ctxt_switches:")) {
                        switches += Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                    }
                }
            }
        }
        return switches;
    }

    private static List<Path> vcpuTasks(long pid) throws IOException {
        List<Path> vcpus = new ArrayList<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                String comm = read(task.resolve("comm"));
                if (comm != null && comm.startsWith("vcpu-")) {
                    vcpus.add(task);
                }
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
