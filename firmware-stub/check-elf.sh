#!/bin/sh
# Checks a built ferry-stub.elf: ELF32 little-endian, and a valid Multiboot v1 header
# (magic, flags, checksum summing to 0) 4-byte aligned within the first 8192 bytes
# (Multiboot spec 0.6.96, 3.1.1).
set -eu
f=$1
class=$(od -A n -t u1 -j 4 -N 1 "$f" | tr -d ' ')
[ "$class" = 1 ] || { echo "check-elf: $f is not ELF32" >&2; exit 1; }
od -A d -t u4 -v -N 8192 "$f" | awk '
    { for (i = 2; i <= NF; i++) w[n++] = $i }
    END {
        for (k = 0; k + 2 < n; k++) {
            if (w[k] == 464367618) {            # 0x1BADB002
                if ((w[k] + w[k + 1] + w[k + 2]) % 4294967296 == 0) {
                    printf("check-elf: Multiboot header at file offset %d\n", k * 4)
                    exit 0
                }
            }
        }
        print "check-elf: no valid Multiboot header in the first 8192 bytes" > "/dev/stderr"
        exit 1
    }'
