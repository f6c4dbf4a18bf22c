package dev.ferry.migration.transport;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** file:PATH: a saved migration stream (QEMU's file: migration), written or read sequentially. */
public final class FileMigrationChannel extends NioMigrationChannel<FileChannel> {

    private FileMigrationChannel(FileChannel file, Path path) {
        super(file, "file:" + path);
    }

    /** Creates or truncates {@code path} for a save. */
    public static FileMigrationChannel create(Path path) throws IOException {
        return new FileMigrationChannel(FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING), path);
    }

    public static FileMigrationChannel open(Path path) throws IOException {
        return new FileMigrationChannel(FileChannel.open(path, StandardOpenOption.READ), path);
    }

    /** A file has no one to answer: the saved stream is the result. */
    @Override
    public boolean hasReturnPath() {
        return false;
    }

    /** The saved stream is on stable storage before the source reports completed. */
    @Override
    public void sync() throws IOException {
        channel.force(true);
    }
}
