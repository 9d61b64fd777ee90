import type { DpkgArch } from '../arch.js';
import type { BzImageInfo } from './bzimage.js';
import type { KernelConfig } from './kconfig.js';

/**
 * Vocabulary of this folder:
 * - a *kernel package* is a Debian binary package that ships /boot/vmlinuz-<release> and
 *   lib/modules/<release>/ (e.g. linux-image-6.1.0-56-cloud-amd64); a *metapackage*
 *   (linux-image-cloud-amd64) only depends on the current one;
 * - a *kernel entry* is one unpacked kernel package in the cache, at
 *   <cache>/kernels/<sha256 of the .deb>/, immutable once published;
 * - *kernel components* (KernelComponents) are what a bake consumes: a kernel image file,
 *   its release, its modules dir and config, whatever the source.
 */

export type KernelSource =
  | { kind: 'debian'; package: string; version: string; sha256: string }
  | { kind: 'local'; path: string; sha256: string };

export interface KernelComponents {
  source: KernelSource;
  /** Kernel image to hand to the VMM (in the cache for Debian kernels, the user's file otherwise). */
  kernelPath: string;
  kernelSha256: string;
  /** `uname -r` of the kernel: the name of its lib/modules directory. */
  release: string;
  /**
   * 'bzImage' (x86 boot protocol, `setup` is set), an ELF 'vmlinux' (PVH entry, no setup
   * header), or an 'arm64-image' (arm64 boot protocol: QEMU -kernel loads it as it is).
   */
  format: 'bzImage' | 'vmlinux' | 'arm64-image';
  /**
   * Memory the kernel needs, linearly, to start: a bzImage's init_size; for a vmlinux the span
   * of its loadable segments. Use this rather than setup.initSize so both formats work.
   */
  initSize: number;
  /** Absolute path of lib/modules/<release>, when the kernel has modules. */
  modulesDir?: string;
  /** The kernel's build config, when known (always for Debian kernels). */
  config?: KernelConfig;
  /** Boot header facts; present when format is 'bzImage'. */
  setup?: BzImageInfo;
}

/** Contents of meta.json in a kernel entry. Only facts about the .deb: same package, same file. */
export interface KernelEntryMeta {
  package: string;
  version: string;
  sha256: string;
  release: string;
  arch: string;
}

/** Exactly which Debian kernel to use, e.g. from a lockfile: no resolution, hash enforced. */
export interface DebianKernelPin {
  package: string;
  version: string;
  sha256: string;
}

export interface ObtainKernelOptions {
  /** Debian's name of the kernel's architecture (src/arch.ts); default amd64. */
  arch?: DpkgArch;
  /** A local bzImage or vmlinux instead of a Debian package. */
  kernelPath?: string;
  /** With kernelPath: lib/modules/<release>, or a tree containing lib/modules/<release>. */
  modulesDir?: string;
  /** A kernel package or metapackage; default: the arch's cloud metapackage. */
  packageName?: string;
  /** Use exactly this package version and .deb hash (overrides packageName). */
  pin?: DebianKernelPin;
}
