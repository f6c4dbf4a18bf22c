package dev.ferry.migration.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** file:PATH: a saved migration stream (QEMU's file: migration), written or read sequentially. */
public final class FileMigrationChannel implements MigrationChannel {

    private final FileChannel file;
    private final Path path;

    private FileMigrationChannel(FileChannel file, Path path) {
        this.file = file;
        this.path = path;
    }

    /** Creates or truncates {@code path} for a save. */
    public static FileMigrationChannel create(Path path) throws IOException {
        return new FileMigrationChannel(FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING), path);
    }

    public static FileMigrationChannel open(Path path) throws IOException {
        return new FileMigrationChannel(FileChannel.open(path, StandardOpenOption.READ), path);
    }

    /** The saved stream is on stable storage before the source reports completed. */
    public void sync() throws IOException {
        file.force(true);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return file.read(dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return file.write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        return file.write(srcs, offset, length);
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return file.write(srcs);
    }

    @Override
    public void abort() {
        try {
            file.close();
        } catch (IOException e) {
            // already closed
        }
    }

    @Override
    public String describe() {
        return "file:" + path;
    }

    @Override
    public boolean isOpen() {
        return file.isOpen();
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
