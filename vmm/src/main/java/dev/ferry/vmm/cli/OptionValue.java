package dev.ferry.vmm.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An option argument in QEMU's "QemuOpts" syntax: {@code [implied=]value,key=value,flag,...},
 * where ",," stands for a literal comma. The first element may omit its key (QEMU's "implied
 * key", e.g. {@code -m 512M} is {@code size=512M}); a bare word later is {@code word=on}, and
 * {@code noword} is {@code word=off} as in QEMU's legacy flag syntax.
 */
final class OptionValue {

    private final String option;
    private final String raw;
    private final Map<String, String> values;

    private OptionValue(String option, String raw, Map<String, String> values) {
        this.option = option;
        this.raw = raw;
        this.values = values;
    }

    static OptionValue parse(String option, String raw, String impliedKey) {
        Map<String, String> values = new LinkedHashMap<>();
        List<String> parts = split(raw);
        for (int i = 0; i < parts.size(); i++) {
            String p = parts.get(i);
            int eq = p.indexOf('=');
            String key;
            String value;
            if (eq >= 0) {
                key = p.substring(0, eq);
                value = p.substring(eq + 1);
            } else if (i == 0 && impliedKey != null) {
                key = impliedKey;
                value = p;
            } else if (p.startsWith("no") && p.length() > 2) {
                key = p.substring(2);
                value = "off";
            } else {
                key = p;
                value = "on";
            }
            if (key.isEmpty()) {
                throw new CliException(option + " " + raw + ": empty parameter name");
            }
            if (values.put(key, value) != null) {
                throw new CliException(option + " " + raw + ": parameter '" + key + "' is given twice");
            }
        }
        return new OptionValue(option, raw, values);
    }

    /** Splits at single commas; ",," is an escaped comma. */
    static List<String> split(String raw) {
        List<String> parts = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == ',') {
                if (i + 1 < raw.length() && raw.charAt(i + 1) == ',') {
                    cur.append(',');
                    i++;
                } else {
                    parts.add(cur.toString());
                    cur.setLength(0);
                }
            } else {
                cur.append(c);
            }
        }
        parts.add(cur.toString());
        return parts;
    }

    String get(String key) {
        return values.get(key);
    }

    boolean has(String key) {
        return values.containsKey(key);
    }

    String require(String key) {
        String v = values.get(key);
        if (v == null || v.isEmpty()) {
            throw new CliException(option + " " + raw + ": parameter '" + key + "' is missing");
        }
        return v;
    }

    /** on/off, yes/no, true/false as QEMU accepts for booleans. */
    boolean bool(String key, boolean dflt) {
        String v = values.get(key);
        if (v == null) {
            return dflt;
        }
        return switch (v) {
            case "on", "yes", "true", "y" -> true;
            case "off", "no", "false", "n" -> false;
            default -> throw new CliException(option + " " + raw + ": parameter '" + key
                    + "' expects 'on' or 'off', not '" + v + "'");
        };
    }

    /** Fails on any key not in {@code allowed}, naming it. */
    void onlyKeys(String... allowed) {
        outer:
        for (String k : values.keySet()) {
            for (String a : allowed) {
                if (a.equals(k)) {
                    continue outer;
                }
            }
            throw new CliException(option + " " + raw + ": invalid parameter '" + k + "'");
        }
    }

    String raw() {
        return raw;
    }
}
