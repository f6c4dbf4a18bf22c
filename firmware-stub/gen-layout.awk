# Generates ferry_layout.h (out=h) or ferry-layout.properties (out=properties) from layout.def.
# Portable awk (mawk, gawk, busybox): numbers above 2^53 are converted to decimal with string
# arithmetic because awk numbers are doubles.
#   awk -v out=h -f gen-layout.awk layout.def > ferry_layout.h

function fail(msg) { printf("layout.def:%d: %s\n", NR, msg) > "/dev/stderr"; failed = 1; exit 1 }

# Hexadecimal digit string -> decimal digit string, exact for any length.
function hex2dec(hex,    dec, i, j, n, d, carry, digits, res) {
    n = 1; digits[1] = 0
    hex = tolower(hex)
    for (i = 1; i <= length(hex); i++) {
        d = index("0123456789abcdef", substr(hex, i, 1)) - 1
        if (d < 0) fail("bad hex digit in " hex)
        carry = d
        for (j = 1; j <= n; j++) {
            carry += digits[j] * 16
            digits[j] = carry % 10
            carry = int(carry / 10)
        }
        while (carry > 0) { digits[++n] = carry % 10; carry = int(carry / 10) }
    }
    res = ""
    for (j = n; j >= 1; j--) res = res digits[j]
    return res
}

function todec(v) {
    if (v ~ /^0[xX][0-9a-fA-F]+$/) {
        if (length(v) > 18) fail("value wider than 64 bits: " v)
        return hex2dec(substr(v, 3))
    }
    if (v ~ /^[0-9]+$/) return v
    fail("not a number: " v)
}

BEGIN {
    for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i
    off = 0; nf = 0; nc = 0; ns = 0
}

{ sub(/#.*/, "") }
NF == 0 { next }

$1 == "table" {
    if (NF != 4 || length($3) != 8) fail("expected: table <section> <8-char magic> <version>")
    section = $2; magic_ascii = $3; version = todec($4)
    # little-endian u64: the first character is the least significant byte
    magic_hex = ""
    for (i = 8; i >= 1; i--) magic_hex = magic_hex sprintf("%02X", ord[substr(magic_ascii, i, 1)])
    next
}
$1 == "field" {
    if (NF != 3 || ($3 != 4 && $3 != 8)) fail("expected: field <name> <4|8>")
    if (off % $3 != 0) fail("field " $2 " at offset " off " is not naturally aligned")
    fname[++nf] = $2; fsize[nf] = $3; foff[nf] = off; off += $3
    next
}
$1 == "const" {
    if (NF != 3) fail("expected: const <NAME> <value>")
    cname[++nc] = $2; craw[nc] = $3; cdec[nc] = todec($3)
    next
}
$1 == "string" {
    if (NF != 3) fail("expected: string <NAME> <value>")
    sname[++ns] = $2; sval[ns] = $3
    next
}
{ fail("unknown line kind '" $1 "'") }

END {
    if (failed) exit 1
    if (section == "") fail("no table line")
    size = off
    if (out == "h") {
        print "/* Generated from layout.def by gen-layout.awk. Do not edit. */"
        print "#ifndef FERRY_LAYOUT_H"
        print "#define FERRY_LAYOUT_H"
        print ""
        printf("#define FERRY_LAYOUT_SECTION \"%s\"\n", section)
        printf("#define FERRY_LAYOUT_MAGIC 0x%s /* \"%s\" */\n", magic_hex, magic_ascii)
        printf("#define FERRY_LAYOUT_VERSION %s\n", version)
        printf("#define FERRY_LAYOUT_SIZE %d\n", size)
        for (i = 1; i <= nf; i++) printf("#define FERRY_LAYOUT_OFF_%s %d\n", toupper(fname[i]), foff[i])
        print ""
        for (i = 1; i <= nc; i++) printf("#define FERRY_%s %s\n", cname[i], craw[i])
        print ""
        for (i = 1; i <= ns; i++) printf("#define FERRY_%s \"%s\"\n", sname[i], sval[i])
        print ""
        print "#ifndef __ASSEMBLER__"
        print "#include <stdint.h>"
        print ""
        print "struct ferry_layout {"
        for (i = 1; i <= nf; i++) printf("    uint%d_t %s;\n", fsize[i] * 8, fname[i])
        print "};"
        print ""
        printf("_Static_assert(sizeof(struct ferry_layout) == %d, \"layout size\");\n", size)
        for (i = 1; i <= nf; i++)
            printf("_Static_assert(__builtin_offsetof(struct ferry_layout, %s) == %d, \"%s\");\n",
                   fname[i], foff[i], fname[i])
        print "#endif /* __ASSEMBLER__ */"
        print "#endif /* FERRY_LAYOUT_H */"
    } else if (out == "properties") {
        print "# Generated from firmware-stub/layout.def by gen-layout.awk. Do not edit."
        print "# All numbers are decimal. Fields are little-endian in the ELF section table.section."
        printf("table.section=%s\n", section)
        printf("table.magic=%s\n", hex2dec(magic_hex))
        printf("table.magic.ascii=%s\n", magic_ascii)
        printf("table.version=%s\n", version)
        printf("table.size=%d\n", size)
        for (i = 1; i <= nf; i++) {
            printf("field.%s.offset=%d\n", fname[i], foff[i])
            printf("field.%s.size=%d\n", fname[i], fsize[i])
        }
        for (i = 1; i <= nc; i++) printf("const.%s=%s\n", cname[i], cdec[i])
        for (i = 1; i <= ns; i++) printf("string.%s=%s\n", sname[i], sval[i])
    } else {
        fail("set -v out=h or -v out=properties")
    }
}
