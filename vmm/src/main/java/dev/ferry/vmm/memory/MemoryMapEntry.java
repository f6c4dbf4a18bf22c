package dev.ferry.vmm.memory;

/** One entry of the firmware memory map; type values are the E820/Multiboot ones. */
public record MemoryMapEntry(long base, long length, Type type) {

    public enum Type {
        USABLE(1), RESERVED(2);

        private final int code;

        Type(int code) {
            this.code = code;
        }

        /** The E820 / Multiboot mmap type number (Multiboot spec 3.3: 1 = available RAM). */
        public int code() {
            return code;
        }
    }
}
