package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.PrettyPrinter;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * QEMU's output style: one object per line ending in CRLF (qmp-spec.rst, "Server responses"),
 * ", " and ": " as separators, non-ASCII escaped as \\uXXXX with upper-case hex.
 */
public final class QmpJsonFormat {

    private static final ObjectWriter WRITER = QmpMessages.MAPPER.writer(new QemuSpacing())
            .with(JsonWriteFeature.ESCAPE_NON_ASCII);

    private QmpJsonFormat() {}

    /** The line for {@code message}, with its CRLF. */
    public static byte[] line(JsonNode message) {
        try {
            return (WRITER.writeValueAsString(message) + "\r\n").getBytes(StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A one-line printer with QEMU's spacing; stateless, so one instance can be shared. */
    private static final class QemuSpacing implements PrettyPrinter {
        @Override
        public void writeRootValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(' ');
        }

        @Override
        public void writeStartObject(JsonGenerator g) throws IOException {
            g.writeRaw('{');
        }

        @Override
        public void writeEndObject(JsonGenerator g, int entries) throws IOException {
            g.writeRaw('}');
        }

        @Override
        public void writeObjectEntrySeparator(JsonGenerator g) throws IOException {
            g.writeRaw(", ");
        }

        @Override
        public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(": ");
        }

        @Override
        public void writeStartArray(JsonGenerator g) throws IOException {
            g.writeRaw('[');
        }

        @Override
        public void writeEndArray(JsonGenerator g, int values) throws IOException {
            g.writeRaw(']');
        }

        @Override
        public void writeArrayValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(", ");
        }

        @Override
        public void beforeArrayValues(JsonGenerator g) {
        }

        @Override
        public void beforeObjectEntries(JsonGenerator g) {
        }
    }
}
