package dev.ferry.migration.ram;

/**
 * Where each page the engine is about to send goes: plain in a RAM record (today's way), sealed
 * by a {@link PageSealer} (a confidential guest's private pages, which only a helper inside the
 * guest's trust boundary may read), or nowhere, because the target already has its memory (a
 * local migration that hands the RAM file over, QEMU's x-ignore-shared).
 *
 * <p>Asked per word of the dirty bitmap, not per page: pages {@code 64*word} to
 * {@code 64*word+63}, bit i for page {@code 64*word+i}, as in the page-state bitmap a
 * confidential router answers from. One call per 64 pages, no object: the engine's loop stays
 * as fast as before. A page is plain unless its bit is set in {@link #skipped} or
 * {@link #sealed}; skipped wins over sealed. The answer may change between passes (a page
 * converted between private and shared goes the new way from then on).
 */
public interface PageRouter {

    /** Every page plain: the stream of a migration without a helper or a shared RAM file. */
    PageRouter ALL_PLAIN = new PageRouter() {
        @Override
        public long sealed(int word) {
            return 0;
        }

        @Override
        public long skipped(int word) {
            return 0;
        }
    };

    /** Of the 64 pages of bitmap word {@code word}, those to hand to the sealer. */
    long sealed(int word);

    /** Of the 64 pages of bitmap word {@code word}, those not to send: the target has them. */
    long skipped(int word);
}
