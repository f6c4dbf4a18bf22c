package dev.ferry.migration.ram;

/** A RAM batch that must not be applied; the message says what is wrong. */
public class PageBatchException extends Exception {
    public PageBatchException(String message) {
        super(message);
    }
}
