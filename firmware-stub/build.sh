#!/bin/sh
# Builds the firmware-stub. Called by Maven (see pom.xml) from this directory:
#   sh build.sh MAKEDIR OUTDIR
# MAKEDIR receives the intermediate files; OUTDIR receives ferry-stub.elf and
# ferry-layout.properties.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: build.sh MAKEDIR OUTDIR" >&2
    exit 2
fi
makedir=$1
outdir=$2
src=$(cd "$(dirname "$0")" && pwd)

need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "firmware-stub: '$1' not found; install $2 (Debian: apt-get install $3)" >&2
        exit 1
    fi
}
need make make make
need gcc gcc gcc
need ld binutils binutils
need objcopy binutils binutils
need awk awk mawk
need od coreutils coreutils

make -s -C "$src" O="$makedir"
mkdir -p "$outdir"
cp "$makedir/ferry-stub.elf" "$makedir/ferry-layout.properties" "$outdir/"
echo "firmware-stub: built $outdir/ferry-stub.elf"
