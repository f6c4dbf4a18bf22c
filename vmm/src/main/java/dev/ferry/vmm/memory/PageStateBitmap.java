package dev.ferry.vmm.memory;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Which guest pages the guest has declared shared (unencrypted); every other page is private.
 * Pages are private by default, as on SEV; the guest reports changes on the page-state channel
 * (docs/design.md, "The page-state channel"). Indexed by guest-physical page number up to the
 * end of RAM. Updated by vCPU threads, read by migration.
 */
public final class PageStateBitmap {

    private final long pages;
    private final AtomicLongArray words;

    public PageStateBitmap(long guestPhysicalEnd) {
        this.pages = guestPhysicalEnd / MemoryLayout.PAGE_SIZE;
        this.words = new AtomicLongArray(Math.toIntExact((pages + 63) / 64));
    }

    public long pageCount() {
        return pages;
    }

    public boolean isShared(long pageNumber) {
        checkPage(pageNumber);
        return (words.get((int) (pageNumber >>> 6)) & (1L << pageNumber)) != 0;
    }

    /** Marks {@code count} pages from {@code firstPage} shared or private. */
    public void set(long firstPage, long count, boolean shared) {
        if (count < 0 || firstPage < 0 || firstPage + count > pages || firstPage + count < firstPage) {
            throw new IllegalArgumentException("pages " + firstPage + "+" + count + " beyond " + pages);
        }
        for (long p = firstPage; p < firstPage + count; p++) {
            int w = (int) (p >>> 6);
            long bit = 1L << p;
            if (shared) {
                words.getAndUpdate(w, v -> v | bit);
            } else {
                words.getAndUpdate(w, v -> v & ~bit);
            }
        }
    }

    public long sharedCount() {
        long n = 0;
        for (int i = 0; i < words.length(); i++) {
            n += Long.bitCount(words.get(i));
        }
        return n;
    }

    /** A copy of the bitmap words, for migration. */
    public long[] snapshot() {
        long[] copy = new long[words.length()];
        for (int i = 0; i < copy.length; i++) {
            copy[i] = words.get(i);
        }
        return copy;
    }

    public void restore(long[] snapshot) {
        if (snapshot.length != words.length()) {
            throw new IllegalArgumentException("page-state bitmap has " + snapshot.length
                    + " words, expected " + words.length());
        }
        for (int i = 0; i < snapshot.length; i++) {
            words.set(i, snapshot[i]);
        }
    }

    private void checkPage(long p) {
        if (p < 0 || p >= pages) {
            throw new IllegalArgumentException("page " + p + " beyond " + pages);
        }
    }
}
