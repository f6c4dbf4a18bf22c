package dev.ferry.vmm.qmp;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntConsumer;

/**
 * QEMU's descriptor sets (qapi/misc.json, add-fd / remove-fd): shared by all monitors, each set
 * a numbered list of descriptors that were passed with SCM_RIGHTS.
 */
public final class QmpFdSets {

    private final Map<Long, List<Integer>> sets = new TreeMap<>();
    private final IntConsumer closer;

    public QmpFdSets(IntConsumer closer) {
        this.closer = closer;
    }

    /** Adds {@code fd} to set {@code id} (or to the lowest free id when null); returns the id. */
    public synchronized long add(Long id, int fd) {
        long set = id != null ? id : lowestFree();
        sets.computeIfAbsent(set, k -> new ArrayList<>()).add(fd);
        return set;
    }

    /** Closes and removes one descriptor of a set, or the whole set when {@code fd} is null. */
    public synchronized void remove(long id, Integer fd) {
        List<Integer> set = sets.get(id);
        if (set == null || (fd != null && !set.contains(fd))) {
            throw new QmpException("File descriptor named '" + (fd == null ? "fdset-id:" + id
                    : "fdset-id:" + id + ", fd:" + fd) + "' not found");
        }
        if (fd == null) {
            set.forEach(closer::accept);
            sets.remove(id);
        } else {
            set.remove(fd);
            closer.accept(fd);
            if (set.isEmpty()) {
                sets.remove(id);
            }
        }
    }

    private long lowestFree() {
        long id = 0;
        while (sets.containsKey(id)) {
            id++;
        }
        return id;
    }

    public synchronized void closeAll() {
        sets.values().forEach(l -> l.forEach(closer::accept));
        sets.clear();
    }
}
