package dev.ferry.vmm.boot;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The contract between Ferry and its firmware stub: ports and the layout-table format. Not
 * written here by hand: the firmware build generates {@code firmware/ferry-layout.properties}
 * from the same {@code layout.def} that generates the C header, so the two cannot drift.
 */
public final class FirmwareAbi {

    public static final String RESOURCE_DIR = "/firmware/";
    public static final String PROPERTIES = RESOURCE_DIR + "ferry-layout.properties";
    public static final String DEFAULT_IMAGE = RESOURCE_DIR + "ferry-stub.elf";

    private static volatile FirmwareAbi instance;

    private final Properties properties;

    FirmwareAbi(Properties properties) {
        this.properties = properties;
    }

    /** The ABI of the firmware packaged with this build. */
    public static FirmwareAbi get() {
        FirmwareAbi abi = instance;
        if (abi == null) {
            synchronized (FirmwareAbi.class) {
                abi = instance;
                if (abi == null) {
                    instance = abi = load();
                }
            }
        }
        return abi;
    }

    private static FirmwareAbi load() {
        try (InputStream in = FirmwareAbi.class.getResourceAsStream(PROPERTIES)) {
            if (in == null) {
                throw new IllegalStateException("resource " + PROPERTIES + " is missing: the firmware-stub module "
                        + "was not built into this jar");
            }
            Properties p = new Properties();
            p.load(in);
            return new FirmwareAbi(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + PROPERTIES, e);
        }
    }

    /** A constant named in layout.def, e.g. {@code PAGE_STATE_PORT}. */
    public long constant(String name) {
        return number("const." + name);
    }

    public String tableSection() {
        return string("table.section");
    }

    public long tableMagic() {
        return number("table.magic");
    }

    public long tableVersion() {
        return number("table.version");
    }

    public boolean hasField(String name) {
        return properties.containsKey("field." + name + ".offset");
    }

    public int fieldOffset(String name) {
        return Math.toIntExact(number("field." + name + ".offset"));
    }

    public int fieldSize(String name) {
        return Math.toIntExact(number("field." + name + ".size"));
    }

    /** Field names in table order. */
    public java.util.List<String> fieldNames() {
        return properties.stringPropertyNames().stream()
                .filter(k -> k.startsWith("field.") && k.endsWith(".offset"))
                .map(k -> k.substring("field.".length(), k.length() - ".offset".length()))
                .sorted(java.util.Comparator.comparingInt(this::fieldOffset))
                .toList();
    }

    private String string(String key) {
        String v = properties.getProperty(key);
        if (v == null) {
            throw new IllegalStateException(PROPERTIES + " has no '" + key + "'");
        }
        return v.trim();
    }

    private long number(String key) {
        String v = string(key);
        try {
            return v.startsWith("0x") || v.startsWith("0X") ? Long.parseUnsignedLong(v.substring(2), 16)
                    : Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalStateException(PROPERTIES + ": '" + key + "' is not a number: " + v);
        }
    }
}
