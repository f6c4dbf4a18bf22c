package dev.ferry.vmm.machine;

import dev.ferry.vmm.boot.BootException;
import dev.ferry.vmm.boot.FirmwareAbi;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads the kernel image: a file given with -kernel, or the embedded firmware stub. */
final class KernelImages {

    /** Larger than any Multiboot kernel Ferry is meant to boot; guards against -kernel /dev/zero. */
    static final long MAX_IMAGE_SIZE = 64L << 20;

    private KernelImages() {}

    static byte[] read(Path kernel) throws IOException {
        if (kernel == null) {
            try (InputStream in = KernelImages.class.getResourceAsStream(FirmwareAbi.DEFAULT_IMAGE)) {
                if (in == null) {
                    throw new BootException("the embedded firmware " + FirmwareAbi.DEFAULT_IMAGE
                            + " is missing from this build");
                }
                return in.readAllBytes();
            }
        }
        if (!Files.isRegularFile(kernel)) {
            throw new BootException("could not load kernel '" + kernel + "': no such file");
        }
        long size = Files.size(kernel);
        if (size > MAX_IMAGE_SIZE) {
            throw new BootException("kernel '" + kernel + "' is " + size + " bytes, more than the "
                    + (MAX_IMAGE_SIZE >> 20) + " MiB Ferry accepts");
        }
        return Files.readAllBytes(kernel);
    }
}
