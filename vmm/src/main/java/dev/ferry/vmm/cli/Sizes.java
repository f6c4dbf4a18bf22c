package dev.ferry.vmm.cli;

import java.math.BigDecimal;

/** QEMU's size syntax: a number with an optional K/M/G/T suffix (powers of 1024). */
final class Sizes {
    private Sizes() {}

    /**
     * Parses {@code text}; a number without suffix is in {@code defaultUnit} bytes (QEMU's -m
     * takes a bare number as MiB). Fractions are allowed with a suffix ("1.5G").
     */
    static long parse(String text, long defaultUnit) {
        if (text == null || text.isEmpty()) {
            throw new NumberFormatException("empty size");
        }
        char last = Character.toUpperCase(text.charAt(text.length() - 1));
        long unit = switch (last) {
            case 'B' -> 1;
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            case 'T' -> 1L << 40;
            default -> 0;
        };
        String number = unit == 0 ? text : text.substring(0, text.length() - 1);
        if (unit == 0) {
            unit = defaultUnit;
        }
        if (!number.matches("[0-9]+(\\.[0-9]+)?")) {
            throw new NumberFormatException("'" + text + "' is not a size");
        }
        BigDecimal bytes = new BigDecimal(number).multiply(BigDecimal.valueOf(unit));
        if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new NumberFormatException("'" + text + "' is too large");
        }
        return bytes.longValue();
    }
}
