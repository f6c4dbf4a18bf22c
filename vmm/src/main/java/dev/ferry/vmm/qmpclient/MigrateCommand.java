package dev.ferry.vmm.qmpclient;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.os.UnixSocket;
import org.jline.utils.Signals;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code ferry migrate --from SRC --to DST}: one live migration driven through both QMP monitors
 * with the sequence libvirt uses (src/qemu/qemu_migration.c): capabilities and parameters on
 * both sides, the channel (a socket pair passed with getfd, or a URI), migrate-incoming on the
 * target, migrate on the source, query-migrate until the end, then cont on the target.
 */
public final class MigrateCommand {

    static final int EXIT_MIGRATED = 0;
    static final int EXIT_FAILED = 1;
    static final int EXIT_USAGE = 2;
    /** 128 + SIGINT, as shells report a command stopped by Ctrl-C. */
    static final int EXIT_INTERRUPTED = 130;
    /** The name both VMMs know the socket pair's ends by (libvirt uses "migrate" too). */
    static final String FD_NAME = "migrate";
    static final long POLL_MILLIS = 150;
    /** How long the target may take to load the last state after the source has completed. */
    static final long TARGET_FINISH_MILLIS = 60_000;

    static final String HELP = """
            usage: ferry migrate --from SOURCE --to TARGET [--uri URI] [options]

            Live-migrates a guest from one VMM to another through their QMP monitors, with the
            sequence libvirt uses: capabilities and parameters on both, migrate-incoming on the
            target, migrate on the source, progress from query-migrate, then cont on the target.
            Start the target with the source's machine options and -incoming defer (with -S too,
            it stays paused until the migration is over, then runs unless --paused is given).

              --from SOURCE          the source's QMP monitor: a unix socket path or tcp:HOST:PORT
              --to TARGET            the target's QMP monitor (the target waits in -incoming defer)
              --uri URI              tcp:HOST:PORT or unix:PATH: the target listens there and the
                                     source connects to it. Default: a socket pair made here, one
                                     end passed to each VMM with getfd (unix monitors; no port).
                                     If the target was started with -incoming URI, give that URI.
              --multifd              send RAM over several channels (multifd on both sides);
                                     without --uri, over a unix socket in a temporary directory
              --channels N           multifd channels, 1-255 (default: the source's setting)
              --auto-converge        throttle the source's vCPUs while the guest dirties memory
                                     faster than it can be sent
              --downtime-limit MS    the longest pause of the guest at switchover (default 300)
              --max-bandwidth SIZE   bytes per second, with binary suffixes K, M, G, T: 512M, 1G
                                     (default: no limit)
              --paused               leave the guest paused on the target (no cont)
              --progress MODE        bar (one line redrawn), lines (one per second), none, or
                                     auto: a bar on a terminal, lines otherwise (the default)
              -h, --help             this text

            Ctrl-C cancels the migration (migrate_cancel); the guest keeps running on the source.
            Exit status: 0 migrated, 1 the migration failed or could not start, 2 usage error,
            130 cancelled with Ctrl-C.
            """;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> IN_PROGRESS = Set.of("setup", "active", "pre-switchover", "device",
            "cancelling", "postcopy-active", "postcopy-paused", "postcopy-recover", "wait-unplug");

    private final MigrateOptions options;
    private final PrintStream out;
    private final PrintStream err;
    private final AtomicInteger interrupts = new AtomicInteger();
    /** Wakes the poll loop early: a MIGRATION event on the source, or Ctrl-C. */
    private final BlockingQueue<String> wake = new LinkedBlockingQueue<>();
    private ProgressDisplay display;
    private Path tempDir;

    private MigrateCommand(MigrateOptions options, PrintStream out, PrintStream err) {
        this.options = options;
        this.out = out;
        this.err = err;
    }

    /** The arguments after "migrate"; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (MigrateOptions.wantsHelp(args)) {
            out.print(HELP);
            return EXIT_MIGRATED;
        }
        MigrateOptions options;
        try {
            options = MigrateOptions.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("ferry migrate: " + e.getMessage());
            err.println("Try 'ferry migrate --help'.");
            return EXIT_USAGE;
        }
        return new MigrateCommand(options, out, err).run();
    }

    /** A reason to stop, with the exit status it means. */
    private static final class Failure extends Exception {
        final int status;

        Failure(String message, int status) {
            super(message);
            this.status = status;
        }

        Failure(String message) {
            this(message, EXIT_FAILED);
        }
    }

    private int run() {
        MigrateOptions.Progress mode = ProgressDisplay.resolve(options.progress());
        display = new ProgressDisplay(out, mode,
                mode == MigrateOptions.Progress.BAR ? ProgressDisplay.terminalWidth() : ProgressDisplay.DEFAULT_WIDTH);
        Object previousHandler = Signals.register("INT", this::interrupted);
        QmpClient src = null;
        QmpClient dst = null;
        try {
            src = connect("--from", options.from());
            dst = connect("--to", options.to());
            return migrate(src, dst);
        } catch (Failure f) {
            display.endLine();
            err.println("ferry migrate: " + f.getMessage());
            return f.status;
        } finally {
            close(src);
            close(dst);
            Signals.unregister("INT", previousHandler);
            removeTempDir();
        }
    }

    /** SIGINT: the first asks for migrate_cancel; a second leaves at once. */
    private void interrupted() {
        if (interrupts.incrementAndGet() == 1) {
            wake.offer("SIGINT");
            return;
        }
        display.endLine();
        err.println("ferry migrate: interrupted again: leaving without waiting for the cancellation"
                + " (see 'ferry qmp " + options.from() + " query-migrate')");
        err.flush();
        out.flush();
        Runtime.getRuntime().halt(EXIT_INTERRUPTED);
    }

    private void checkInterrupted(String what) throws Failure {
        if (interrupts.get() > 0) {
            throw new Failure("interrupted " + what + "; nothing was migrated", EXIT_INTERRUPTED);
        }
    }

    private static QmpClient connect(String option, String monitor) throws Failure {
        QmpClient c = null;
        try {
            c = QmpClient.connect(monitor);
            c.negotiate();
            return c;
        } catch (IOException | RuntimeException e) {
            close(c);
            throw new Failure(option + " " + monitor + ": " + e.getMessage());
        }
    }

    private static void close(QmpClient c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception e) {
                // the connection is going away either way
            }
        }
    }

    private int migrate(QmpClient src, QmpClient dst) throws Failure {
        String srcState = runState(src, "source");
        if (srcState.equals("inmigrate")) {
            throw new Failure("the source is itself waiting for an incoming migration (are --from and --to "
                    + "the wrong way round?)");
        }
        String dstState = runState(dst, "target");
        if (!dstState.equals("inmigrate")) {
            throw new Failure("the target is not waiting for a migration (state " + dstState
                    + "); start it with -incoming defer");
        }
        String srcMigration = ok(src, "source", "query-migrate", null).path("status").asText("none");
        if (IN_PROGRESS.contains(srcMigration)) {
            throw new Failure("a migration is already in progress on the source (status " + srcMigration + ")");
        }
        JsonNode dstInfo = ok(dst, "target", "query-migrate", null);
        String dstMigration = dstInfo.path("status").asText("none");
        boolean targetListens = dstMigration.equals("setup");
        if (IN_PROGRESS.contains(dstMigration) && !targetListens) {
            throw new Failure("the target is already receiving a migration (status " + dstMigration + ")");
        }
        if (targetListens && options.uri() == null) {
            String at = listeningAddress(dstInfo);
            throw new Failure("the target already listens" + (at == null ? "" : " on " + at)
                    + " (it was started with -incoming URI rather than defer); pass its address with --uri"
                    + (at == null ? "" : " " + at));
        }

        setCapabilities(src, dst);
        setParameters(src, dst);
        checkInterrupted("while setting up");

        src.onEvent(e -> {
            if (e.path("event").asText().equals("MIGRATION")) {
                wake.offer(e.at("/data/status").asText());
            }
        });
        String uri = startIncoming(src, dst, targetListens);
        checkInterrupted("before the migration started (the target still waits for it)");
        out.println("Migrating " + options.from() + " -> " + options.to() + " over "
                + (uri.equals("fd:" + FD_NAME) ? "a socket pair (fd:" + FD_NAME + ")" : uri));
        ObjectNode migrateArgs = JSON.createObjectNode().put("uri", uri);
        ok(src, "source", "migrate", migrateArgs);

        MigrationFigures end = follow(src);
        boolean cancelled = interrupts.get() > 0;
        switch (end.status()) {
            case "completed" -> {
                if (cancelled) {
                    err.println("ferry migrate: the migration completed before the cancellation took effect");
                }
                out.print(MigrationProgress.summary(end));
                finishOnTarget(src, dst, srcState.equals("running"));
                return EXIT_MIGRATED;
            }
            case "failed" -> {
                err.println("ferry migrate: migration failed: "
                        + (end.errorDesc() == null ? "(the source gave no reason)" : end.errorDesc()));
                reportSource(src);
                return cancelled ? EXIT_INTERRUPTED : EXIT_FAILED;
            }
            default -> {
                err.println(cancelled ? "ferry migrate: migration cancelled"
                        : "ferry migrate: the migration was cancelled by another client of the source");
                reportSource(src);
                return cancelled ? EXIT_INTERRUPTED : EXIT_FAILED;
            }
        }
    }

    /**
     * migrate-set-capabilities on both sides: events, multifd as asked; on the source
     * auto-converge as asked and pause-before-switchover off (nothing here would continue it).
     * Capabilities are set off explicitly, as libvirt does, so that an earlier session's
     * settings do not leak into this migration.
     */
    private void setCapabilities(QmpClient src, QmpClient dst) throws Failure {
        ObjectNode s = JSON.createObjectNode();
        ArrayNode sc = s.putArray("capabilities");
        capability(sc, "events", true);
        capability(sc, "multifd", options.multifd());
        capability(sc, "auto-converge", options.autoConverge());
        capability(sc, "pause-before-switchover", false);
        ok(src, "source", "migrate-set-capabilities", s);
        ObjectNode d = JSON.createObjectNode();
        ArrayNode dc = d.putArray("capabilities");
        capability(dc, "events", true);
        capability(dc, "multifd", options.multifd());
        ok(dst, "target", "migrate-set-capabilities", d);
    }

    private static void capability(ArrayNode list, String name, boolean state) {
        list.addObject().put("capability", name).put("state", state);
    }

    /** Only what was asked for; with multifd, both sides get the same number of channels. */
    private void setParameters(QmpClient src, QmpClient dst) throws Failure {
        ObjectNode s = JSON.createObjectNode();
        if (options.downtimeLimitMillis() != null) {
            s.put("downtime-limit", options.downtimeLimitMillis());
        }
        if (options.maxBandwidth() != null) {
            s.put("max-bandwidth", options.maxBandwidth());
        }
        if (options.multifd()) {
            int channels = options.channels() != null ? options.channels()
                    : ok(src, "source", "query-migrate-parameters", null).path("multifd-channels").asInt(2);
            s.put("multifd-channels", channels);
            ok(dst, "target", "migrate-set-parameters", JSON.createObjectNode().put("multifd-channels", channels));
        }
        if (!s.isEmpty()) {
            ok(src, "source", "migrate-set-parameters", s);
        }
    }

    /**
     * Gives the target its channel and returns the URI for the source's migrate: the socket pair
     * (fd:migrate) by default, a unix socket in a temporary directory for multifd without
     * --uri, or --uri (with tcp port 0, the port the target was given).
     */
    private String startIncoming(QmpClient src, QmpClient dst, boolean targetListens) throws Failure {
        if (targetListens) {
            out.println("The target already listens (-incoming URI); migrating to " + options.uri());
            return options.uri();
        }
        String uri = options.uri();
        if (uri == null && options.multifd()) {
            try {
                tempDir = Files.createTempDirectory("ferry-migrate-");
            } catch (IOException e) {
                throw new Failure("cannot create a directory for the migration socket: " + e.getMessage());
            }
            uri = "unix:" + tempDir.resolve("migration.sock");
        }
        if (uri == null) {
            return passSocketPair(src, dst);
        }
        JsonNode r = execute(dst, "target", "migrate-incoming", JSON.createObjectNode().put("uri", uri));
        if (r.has("error")) {
            String desc = r.at("/error/desc").asText();
            if (options.uri() != null && (desc.contains("'-incoming' was not specified")
                    || desc.contains("already been started"))) {
                // -incoming URI on the target's command line: it listens at what --uri names.
                out.println("The target was started with -incoming URI (" + desc + "); migrating to " + uri);
                return uri;
            }
            throw new Failure("the target refused migrate-incoming " + uri + ": " + desc);
        }
        if (uri.startsWith("tcp:") && uri.endsWith(":0")) {
            String at = listeningAddress(ok(dst, "target", "query-migrate", null));
            if (at == null) {
                throw new Failure("the target listens on " + uri + " but does not say which port it got");
            }
            return at;
        }
        return uri;
    }

    /** libvirt's way: one end of a socket pair to each VMM (getfd), then migrate-incoming fd:. */
    private static String passSocketPair(QmpClient src, QmpClient dst) throws Failure {
        int[] pair;
        try {
            pair = UnixSocket.socketPair();
        } catch (RuntimeException e) {
            throw new Failure(e.getMessage());
        }
        try {
            ObjectNode getfd = JSON.createObjectNode().put("fdname", FD_NAME);
            passFd(dst, "target", getfd, pair[1]);
            ok(dst, "target", "migrate-incoming", JSON.createObjectNode().put("uri", "fd:" + FD_NAME));
            passFd(src, "source", getfd, pair[0]);
        } finally {
            // Each VMM holds its own copy now; ours would keep the channel open after they close it.
            LibC.close(pair[0]);
            LibC.close(pair[1]);
        }
        return "fd:" + FD_NAME;
    }

    private static void passFd(QmpClient c, String side, ObjectNode getfd, int fd) throws Failure {
        JsonNode r;
        try {
            r = c.executeWithFds("getfd", getfd, fd);
        } catch (IOException e) {
            throw new Failure("getfd on the " + side + ": " + e.getMessage());
        }
        if (r.has("error")) {
            throw new Failure("the " + side + " refused getfd: " + r.at("/error/desc").asText());
        }
    }

    /** Polls query-migrate on the source, showing progress, until the migration has ended. */
    private MigrationFigures follow(QmpClient src) throws Failure {
        long start = System.nanoTime();
        boolean cancelSent = false;
        while (true) {
            if (interrupts.get() > 0 && !cancelSent) {
                display.endLine();
                err.println("ferry migrate: interrupted: cancelling the migration (Ctrl-C again to leave at once)");
                JsonNode r = execute(src, "source", "migrate_cancel", null);
                if (r.has("error")) {
                    err.println("ferry migrate: migrate_cancel: " + r.at("/error/desc").asText());
                }
                cancelSent = true;
            }
            long now = System.nanoTime();
            MigrationFigures f = MigrationFigures.of(ok(src, "source", "query-migrate", null));
            display.update(f, TimeUnit.NANOSECONDS.toMillis(now - start), now);
            if (f.finished()) {
                display.endLine();
                return f;
            }
            try {
                wake.poll(POLL_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Failure("interrupted while following the migration");
            }
        }
    }

    /**
     * After the source completed: waits for the target to leave inmigrate, then resumes it with
     * cont if it is paused (started with -S) and the guest was running on the source, as libvirt
     * does, unless --paused.
     */
    private void finishOnTarget(QmpClient src, QmpClient dst, boolean sourceWasRunning) throws Failure {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TARGET_FINISH_MILLIS);
        String state;
        while ((state = runState(dst, "target")).equals("inmigrate")) {
            JsonNode in = ok(dst, "target", "query-migrate", null);
            if (in.path("status").asText().equals("failed")) {
                throw new Failure("the target failed to load the migration: " + in.path("error-desc").asText("?")
                        + "; the source is " + runState(src, "source") + ": resume it with 'ferry qmp "
                        + options.from() + " cont'");
            }
            if (System.nanoTime() > deadline) {
                throw new Failure("the source completed, but the target is still loading after "
                        + TARGET_FINISH_MILLIS / 1000 + " s (status " + in.path("status").asText("none") + ")");
            }
            sleep(50);
        }
        if (state.equals("paused") && sourceWasRunning && !options.paused()) {
            ok(dst, "target", "cont", null);
            out.println("Target: resumed with cont; now " + runState(dst, "target"));
        } else if (state.equals("paused")) {
            out.println("Target: paused" + (options.paused() ? " (--paused)" : " (as the guest was on the source)")
                    + "; resume it with 'ferry qmp " + options.to() + " cont'");
        } else {
            out.println("Target: " + state);
            if (options.paused() && state.equals("running")) {
                out.println("Note: --paused keeps the guest paused only on a target started with -S");
            }
        }
        out.println("Source: " + runState(src, "source") + " (stop it with 'ferry qmp " + options.from() + " quit')");
    }

    /** After a failed or cancelled migration: whether the guest runs on the source again. */
    private void reportSource(QmpClient src) {
        try {
            String state = runState(src, "source");
            err.println(state.equals("running") ? "ferry migrate: the guest is running on the source"
                    : "ferry migrate: the source is in state " + state);
        } catch (Failure f) {
            err.println("ferry migrate: " + f.getMessage());
        }
    }

    private static void sleep(long millis) throws Failure {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure("interrupted");
        }
    }

    private static String runState(QmpClient c, String side) throws Failure {
        return ok(c, side, "query-status", null).path("status").asText("?");
    }

    /** The address query-migrate's socket-address names, as a URI; null if none. */
    static String listeningAddress(JsonNode info) {
        JsonNode a = info.path("socket-address").path(0);
        return switch (a.path("type").asText()) {
            case "inet" -> "tcp:" + (a.path("host").asText().contains(":") ? "[" + a.path("host").asText() + "]"
                    : a.path("host").asText()) + ":" + a.path("port").asText();
            case "unix" -> "unix:" + a.path("path").asText();
            default -> null;
        };
    }

    /** The reply of {@code command}; an error reply is a Failure naming the side and command. */
    private static JsonNode ok(QmpClient c, String side, String command, ObjectNode args) throws Failure {
        JsonNode r = execute(c, side, command, args);
        if (r.has("error")) {
            throw new Failure("the " + side + " refused " + command + ": " + r.at("/error/desc").asText());
        }
        return r.path("return");
    }

    private static JsonNode execute(QmpClient c, String side, String command, ObjectNode args) throws Failure {
        try {
            return c.execute(command, args);
        } catch (IOException e) {
            throw new Failure(command + " on the " + side + ": " + e.getMessage());
        }
    }

    private void removeTempDir() {
        if (tempDir == null) {
            return;
        }
        try (var files = Files.list(tempDir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(p);
            }
            Files.deleteIfExists(tempDir);
        } catch (IOException e) {
            err.println("ferry migrate: cannot remove " + tempDir + ": " + e.getMessage());
        }
    }
}
