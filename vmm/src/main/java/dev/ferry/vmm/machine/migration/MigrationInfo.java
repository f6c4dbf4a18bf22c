package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.transport.MigrationUri;

import dev.ferry.migration.ram.MigrationStats;

/**
 * What query-migrate reports about the current or last migration, outgoing or incoming.
 *
 * @param stats           RAM figures (outgoing), or null
 * @param multifdBytes    bytes of stream sent on the multifd RAM channels (outgoing)
 * @param incomingAddress the address an incoming migration listens on, or null
 */
public record MigrationInfo(MigrationStatus status, boolean incoming, long setupTimeMillis, long totalTimeMillis,
                            long downtimeMillis, MigrationStats stats, long multifdBytes, String errorDesc,
                            int throttlePercent, MigrationUri incomingAddress) {}
