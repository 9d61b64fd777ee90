import { KilnError, ErrorCodes } from './errors.js';
import { EM_AARCH64, EM_X86_64 } from './rootfs/elf.js';

/**
 * The CPU architectures kiln bakes images for, and the facts that follow from each: which ELF
 * machine an app must have, which Debian architecture (and kernel package) its kernel comes
 * from, which QEMU program and machine run it and which kiln tuple builds for it. This is the
 * one record of them: components, toolchain, targets, supply and debian all read it, so adding
 * an architecture means one entry here, one target driver and one tuple.
 */
export type Arch = 'x86_64' | 'aarch64';

/** Debian's names for them (dpkg --print-architecture), which its packages carry. */
export type DpkgArch = 'amd64' | 'arm64';

export interface ArchInfo {
  name: Arch;
  /** e_machine of the ELF programs this architecture runs. */
  elfMachine: number;
  /** Debian's name for it (dpkg --print-architecture), which its kernel packages carry. */
  dpkgArch: DpkgArch;
  /**
   * The metapackage that always depends on Debian's current cloud kernel, and the form of the
   * boot image its packages ship in /boot/vmlinuz-*: an x86 bzImage or an arm64 Image. Foreign
   * kernels (arm64 on amd64) come through the host's apt as `pkg:arm64` once dpkg has the
   * architecture (scripts/setup.sh); they are downloaded and unpacked, never installed.
   */
  kernelPackage: string;
  kernelFormat: 'bzImage' | 'arm64-image';
  /** The QEMU system emulator, the Debian package that has it, and the machine kiln boots on it. */
  qemu: string;
  qemuPackage: string;
  qemuMachine: 'pc' | 'virt';
  /** Node's process.arch on a host of this architecture (KVM only runs guests of the host's own). */
  nodeArch: NodeJS.Architecture;
  /** The kiln tuple that builds static programs for it. */
  defaultTuple: string;
}

export const ARCHS: Readonly<Record<Arch, ArchInfo>> = {
  x86_64: {
    name: 'x86_64',
    elfMachine: EM_X86_64,
    dpkgArch: 'amd64',
    kernelPackage: 'linux-image-cloud-amd64',
    kernelFormat: 'bzImage',
    qemu: 'qemu-system-x86_64',
    qemuPackage: 'qemu-system-x86',
    qemuMachine: 'pc',
    nodeArch: 'x64',
    defaultTuple: 'x86_64-kiln-linux-musl',
  },
  aarch64: {
    name: 'aarch64',
    elfMachine: EM_AARCH64,
    dpkgArch: 'arm64',
    kernelPackage: 'linux-image-cloud-arm64',
    kernelFormat: 'arm64-image',
    qemu: 'qemu-system-aarch64',
    qemuPackage: 'qemu-system-arm',
    qemuMachine: 'virt',
    nodeArch: 'arm64',
    defaultTuple: 'aarch64-kiln-linux-musl',
  },
};

export const DEFAULT_ARCH: Arch = 'x86_64';

export function isArch(name: string): name is Arch {
  return Object.hasOwn(ARCHS, name);
}

/** The architecture named `name` (kiln's names, or Debian's amd64/arm64), or KILN_ARCH_UNKNOWN listing the known ones. */
export function getArch(name: string): ArchInfo {
  const found = isArch(name) ? ARCHS[name] : Object.values(ARCHS).find((info) => info.dpkgArch === name);
  if (!found) {
    throw new KilnError(ErrorCodes.ARCH_UNKNOWN, `unknown architecture "${name}"`, {
      hint: `known architectures: ${Object.keys(ARCHS).join(', ')}`,
    });
  }
  return found;
}

/** The architecture whose programs have this ELF machine, if kiln knows one. */
export function archForElfMachine(machine: number): ArchInfo | undefined {
  return Object.values(ARCHS).find((info) => info.elfMachine === machine);
}

/** True when a guest of this architecture could use KVM on this host (same CPU architecture). */
export function kvmPossibleFor(arch: Arch, hostArch: NodeJS.Architecture = process.arch): boolean {
  return ARCHS[arch].nodeArch === hostArch;
}

/** The architecture Debian calls `dpkgArch` (a kernel entry's), refused when kiln has no images for it. */
export function archByDpkg(dpkgArch: string): ArchInfo {
  const found = Object.values(ARCHS).find((info) => info.dpkgArch === dpkgArch);
  if (!found) {
    throw new KilnError(ErrorCodes.USAGE, `kernels for ${dpkgArch} are not supported yet`, { hint: `supported: ${Object.values(ARCHS).map((info) => info.dpkgArch).join(', ')}` });
  }
  return found;
}
