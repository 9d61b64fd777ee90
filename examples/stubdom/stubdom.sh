#!/usr/bin/env bash
# Bakes Debian's qemu-system-x86_64, unmodified, with its libraries and the firmware files in
# qemu-files.txt: for Xen as a stub-domain-style PVH guest (qemu.xen/), and for QEMU
# (qemu.img/), where it is then run to start a tiny nested machine (nested.S) as a check.
# Run from anywhere; writes into $OUT (default: ./stubdom-out). Needs: kiln built (npm run
# build or scripts/setup.sh), gcc and binutils for the nested guest.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kiln=(node "$here/../../dist/src/cli/main.js")
out=${OUT:-$PWD/stubdom-out}
mkdir -p "$out"

# SRC:/DEST lines without comments, as --file flags.
files=()
while IFS= read -r line; do
  line=${line%%#*}
  line=${line//[[:space:]]/}
  [[ -n $line ]] && files+=(--file "$line")
done <"$here/qemu-files.txt"

gcc -m32 -c "$here/nested.S" -o "$out/nested.o"
ld -m elf_i386 -Ttext 0x100000 -e _start -o "$out/nested.elf" "$out/nested.o"
files+=(--file "$out/nested.elf:/srv/nested.elf")

"${kiln[@]}" bake /usr/bin/qemu-system-x86_64 --target xen "${files[@]}" -o "$out/qemu.xen"
"${kiln[@]}" bake /usr/bin/qemu-system-x86_64 --target qemu "${files[@]}" -o "$out/qemu.img"

# QEMU inside the VM: a pc machine under TCG running the nested guest, which prints a line on
# the debug console and ends with status 85 through isa-debug-exit.
set +e
"${kiln[@]}" launch "$out/qemu.img" -m 384M --net none --accel tcg -- \
  -M pc -accel tcg,tb-size=32 -m 16 -nodefaults -display none -no-reboot \
  -kernel /srv/nested.elf -debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=4
status=$?
set -e
echo "nested QEMU exited with $status (85 expected)"
[[ $status -eq 85 ]]
