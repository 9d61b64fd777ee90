import { KilnError, ErrorCodes } from './errors.js';
import { EM_AARCH64, EM_X86_64 } from './rootfs/elf.js';
import type { KernelArch } from './components/types.js';

/**
 * The CPU architectures kiln bakes images for, and the facts that follow from each: which ELF
 * machine an app must have, which Debian architecture its kernel comes from, which QEMU
 * program runs it and which kiln tuple builds for it. Everything arch-specific that is not a
 * machine detail (those are in the target of that architecture) is data here, so adding an
 * architecture means one entry here, one target, one kernel ArchSpec and one tuple.
 */
export type Arch = 'x86_64' | 'aarch64';

export interface ArchInfo {
  name: Arch;
  /** e_machine of the ELF programs this architecture runs. */
  elfMachine: number;
  /** Debian's name for it (dpkg --print-architecture), which its kernel packages carry. */
  dpkgArch: KernelArch;
  /** The QEMU system emulator and the Debian package that has it. */
  qemu: string;
  qemuPackage: string;
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
    qemu: 'qemu-system-x86_64',
    qemuPackage: 'qemu-system-x86',
    nodeArch: 'x64',
    defaultTuple: 'x86_64-kiln-linux-musl',
  },
  aarch64: {
    name: 'aarch64',
    elfMachine: EM_AARCH64,
    dpkgArch: 'arm64',
    qemu: 'qemu-system-aarch64',
    qemuPackage: 'qemu-system-arm',
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
