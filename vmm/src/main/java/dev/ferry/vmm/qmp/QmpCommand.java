package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * One QMP command: its name, its declared arguments and return type (which query-qmp-schema
 * reports and the dispatcher checks), and what it does. Adding a command is adding one class
 * and listing it in the registry the server is given ({@code qmp.command.FerryCommands}).
 */
public interface QmpCommand {

    String name();

    default List<QmpArgument> arguments() {
        return List.of();
    }

    /** The return type for the schema; commands that return nothing return an empty object. */
    default QmpType returns() {
        return new QmpType.Struct("q_empty", List.of());
    }

    /**
     * Runs the command with validated arguments. Runs on the machine's control thread unless
     * {@link #onConnectionThread()}; throws {@link QmpException} for a QMP error reply.
     */
    JsonNode execute(QmpCall call, ObjectNode arguments);

    /** Commands that only touch the connection (fd passing) need not wait for the machine. */
    default boolean onConnectionThread() {
        return false;
    }
}
