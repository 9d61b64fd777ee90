/**
 * Guest memory needed to boot. The kernel needs its decompressed size (the bzImage's
 * init_size) and the initramfs is held twice while it unpacks (the archive and the files it
 * becomes in tmpfs); the rest is page tables, slab and the app. The margin was measured on the
 * Debian cloud kernel: init_size 51.5 MiB + a tiny initrd boots at 72 MiB and not below, so
 * 24 MiB of margin keeps a little headroom over that floor.
 */
const MiB = 1024 * 1024;
const MARGIN_MIB = 24;

export function minimumMemoryMiB(kernelInitSize: number, initrdBytes: number): number {
  return Math.ceil((kernelInitSize + 2 * initrdBytes) / MiB) + MARGIN_MIB;
}

/** A default that always boots and leaves the app room: at least 128 MiB. */
export function defaultMemoryMiB(minimumMiB: number): number {
  return Math.max(128, Math.ceil((minimumMiB + 64) / 16) * 16);
}
