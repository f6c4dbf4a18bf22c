package dev.ferry.vmm.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** What /proc says about this test JVM (proc(5)). */
public final class ProcSelf {
    private ProcSelf() {}

    /**
     * This process's descriptors of /dev/kvm, KVM VMs and vCPUs, as "FD -> TARGET", sorted. Only
     * KVM's: other threads of a test JVM open and close files concurrently.
     */
    public static List<String> kvmDescriptors() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.map(ProcSelf::target).filter(t -> t.contains("kvm")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String target(Path fd) {
        try {
            return fd.getFileName() + " -> " + Files.readSymbolicLink(fd);
        } catch (IOException gone) {
            return "";  // closed between the listing and the read by another thread
        }
    }

    /** The calling thread's scheduling policy as the kernel reports it (stat field 41). */
    public static int schedulingPolicyOfThisThread() {
        return schedulingPolicy(Path.of("/proc/thread-self/stat"));
    }

    /** The scheduling policy of thread {@code tid} of this process (sched(7)'s SCHED_* value). */
    public static int schedulingPolicyOf(int tid) {
        return schedulingPolicy(Path.of("/proc/self/task/" + tid + "/stat"));
    }

    private static int schedulingPolicy(Path statFile) {
        try {
            String stat = Files.readString(statFile);
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Integer.parseInt(fields[41 - 3]);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
