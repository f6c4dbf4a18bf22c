#!/bin/sh
# Boots the firmware-stub under QEMU and checks what a test would check:
#   selftest passes (exit status 1 through isa-debug-exit), triplefault makes QEMU exit,
#   a short workload run prints heartbeats with errors=0 and advancing pages_verified.
# usage: sh qemu-smoke.sh ELF [machine: microvm|pc] [smp]
set -u
elf=$1
machine=${2:-microvm}
smp=${3:-2}
wait_s=4
[ "$machine" = pc ] && wait_s=10    # SeaBIOS takes ~3 s on kvm-pvm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

qemu() {    # qemu SECONDS CMDLINE -> output in $tmp/out, status in $tmp/rc
    timeout "$1" qemu-system-x86_64 -enable-kvm -M "$machine" -cpu host,-arch-capabilities \
        -m 256M -smp "$smp" -nographic -no-reboot -kernel "$elf" \
        -fw_cfg name=opt/ferry/cmdline,string="$2" -device isa-debug-exit \
        </dev/null >"$tmp/out" 2>&1
    echo $? >"$tmp/rc"
}

qemu 30 "mode=selftest"
if grep -q "ferry: selftest pass" "$tmp/out" && [ "$(cat "$tmp/rc")" = 1 ]; then
    echo "ok   selftest ($machine, smp=$smp)"
else
    echo "FAIL selftest ($machine, smp=$smp): status $(cat "$tmp/rc")"; cat "$tmp/out"; fail=1
fi

qemu 30 "mode=triplefault"
if grep -q "ferry: triple fault requested" "$tmp/out" && [ "$(cat "$tmp/rc")" = 0 ]; then
    echo "ok   triplefault"
else
    echo "FAIL triplefault: status $(cat "$tmp/rc")"; cat "$tmp/out"; fail=1
fi

qemu "$wait_s" "mem=64 rate=32 shared=25 hb=500"
last=$(grep "ferry: hb=" "$tmp/out" | tail -1)
verified=$(echo "$last" | sed -n 's/.*pages_verified=\([0-9]*\).*/\1/p')
if echo "$last" | grep -q " errors=0" && [ "${verified:-0}" -gt 0 ]; then
    echo "ok   workload: $last"
else
    echo "FAIL workload"; cat "$tmp/out"; fail=1
fi
exit $fail
