package dev.ferry.migration.ram;

import java.io.IOException;

/**
 * Seals the pages a {@link PageRouter} routes to it and writes them as sealed records (record
 * type SEALED_PAGES, whose payload the migration helper's mailbox document specifies). The
 * migration helper VM implements it: it seals a batch per VM exit, so the engine hands pages
 * over in batches of up to {@link #batchPages()}, in the order the pass reaches them (ascending
 * page numbers), every dirty version of a page in the pass that found it dirty.
 */
public interface PageSealer {

    /** The most pages of one {@link #seal} call (the engine keeps an array of this size). */
    int batchPages();

    /**
     * Seals the pages numbered {@code pages[0..count)} (numbers as in {@link GuestPages}) and
     * writes their records to {@code sink} before returning; the array is the engine's again
     * afterwards.
     *
     * @return the bytes written to {@code sink}, which count as transferred
     */
    long seal(long[] pages, int count, RecordSink sink) throws IOException, InterruptedException;
}
