import { KilnError, ErrorCodes } from '../errors.js';
import { DEBUG_EXIT_PORT, pcMachineOptions } from './qemu/machine.js';
import type { QemuOption } from './qemu/options.js';
import { microvmMachineOptions } from './microvm/machine.js';
import { microvmTarget } from './microvm/driver.js';
import { xenTarget } from './xen/driver.js';
import { xenHostTarget } from './xen-host/target.js';
import { xenHostMachineOptions } from './xen-host/machine.js';
import { diskTarget, efiTarget } from './efi/driver.js';
import { uefiMachineOptions } from './efi/machine.js';
import { HostProbe, type PlatformProbe } from './probe.js';
import type { MachineRequest, QemuTarget, Target, TargetName } from './types.js';
import { ARCHS, DEFAULT_ARCH, getArch, type Arch } from './arch.js';
import { virtTarget } from './virt/driver.js';
import { virtMachineOptions } from './virt/machine.js';

/** The `qemu` target: a classic `pc` machine with virtio-pci devices, booted with -kernel. */
export const qemuTarget: QemuTarget = {
  name: 'qemu',
  arch: 'x86_64',
  description: 'QEMU pc machine (KVM or TCG), virtio-pci network, entropy and power button',
  componentSets: ['virtio-pci', 'virtio-net', 'virtio-blk', 'virtio-rng', 'acpi-power'],
  kernel: 'bzimage',
  boot: 'bzimage+initrd',
  cmdline: ['console=ttyS0', 'rdinit=/kiln/init', 'panic=-1', 'quiet'],
  console: 'ttyS0',
  configDelivery: 'initrd-append',
  statusDevice: '/dev/ttyS1',
  exit: { kind: 'isa-debug-exit', port: DEBUG_EXIT_PORT },
  networks: ['user', 'tap'],
  platforms: [{ kind: 'qemu', machine: 'pc' }],
  artifacts: [],
};

export { microvmTarget, xenTarget, xenHostTarget, efiTarget, diskTarget, virtTarget };

const TARGETS: { [N in TargetName]: Extract<Target, { name: N }> } = {
  qemu: qemuTarget,
  microvm: microvmTarget,
  xen: xenTarget,
  'xen-host': xenHostTarget,
  efi: efiTarget,
  disk: diskTarget,
};

/** The targets of each architecture; x86_64 has them all, aarch64 so far only `qemu` (the virt board). */
const TARGETS_BY_ARCH: { [A in Arch]: Partial<Record<TargetName, Target>> } = {
  x86_64: TARGETS,
  aarch64: { qemu: virtTarget },
};

export function listTargets(arch: Arch = DEFAULT_ARCH): Target[] {
  return Object.values(TARGETS_BY_ARCH[arch]);
}

/** The target `name` for images of `arch` (default x86_64); unknown names and arches list the known ones. */
export function getTarget(name: string, arch: string = DEFAULT_ARCH): Target {
  const archName = getArch(arch).name;
  const targets = TARGETS_BY_ARCH[archName];
  const target = Object.hasOwn(targets, name) ? targets[name as TargetName] : undefined;
  if (!target) {
    const elsewhere = Object.values(ARCHS).some((other) => Object.hasOwn(TARGETS_BY_ARCH[other.name], name));
    throw new KilnError(ErrorCodes.TARGET_UNKNOWN, elsewhere ? `the ${name} target does not exist for ${archName} yet` : `unknown target "${name}"`, {
      hint: `known targets${archName === DEFAULT_ARCH ? '' : ` for ${archName}`}: ${Object.keys(targets).join(', ')}`,
    });
  }
  return target;
}

/**
 * The same target for another architecture: what bake uses when the app's ELF machine says the
 * image is for aarch64 while the caller picked a target by name only (the default is x86_64).
 */
export function targetForArch(target: Target, arch: Arch): Target {
  return target.arch === arch ? target : getTarget(target.name, arch);
}

export interface TargetProbe {
  target: TargetName;
  /** True when `kiln launch` can run this target's images here (its first platform works). */
  launchable: boolean;
  /** Every reason the launch platform cannot run here; empty when launchable. */
  reasons: string[];
  qemuVersion?: string;
  /** Every platform of the target, each with its own verdict (e.g. microvm: QEMU and Firecracker). */
  platforms: PlatformProbe[];
}

/** Says whether a target can be launched on this host, and if not, every reason why. */
export async function probeTarget(target: Target, host: HostProbe = new HostProbe()): Promise<TargetProbe> {
  const platforms = await Promise.all(target.platforms.map((platform) => host.probe(platform)));
  const first = platforms[0]!;
  const qemuVersion = platforms.find((probe) => probe.platform === 'qemu')?.version;
  return { target: target.name, launchable: first.usable, reasons: first.reasons, ...(qemuVersion ? { qemuVersion } : {}), platforms };
}

/** Probes every target of `arch` (default x86_64), sharing the host facts (QEMU's version and machines) between them. */
export async function probeTargets(arch: Arch = DEFAULT_ARCH, host: HostProbe = new HostProbe()): Promise<{ target: Target; probe: TargetProbe }[]> {
  return Promise.all(listTargets(arch).map(async (target) => ({ target, probe: await probeTarget(target, host) })));
}

/**
 * The QEMU options that boot an image of `target`: one function per target, chosen here so
 * launch never switches on target names. Targets QEMU cannot run are refused with the reason.
 */
export function qemuMachineOptions(target: Target, request: MachineRequest): QemuOption[] {
  switch (target.name) {
    case 'qemu':
      if (target.boot === 'arm64-image+initrd') {
        if (request.uefi) throw new KilnError(ErrorCodes.USAGE, 'aarch64 images boot their kernel directly; kiln has no arm64 UEFI boot yet', { hint: 'drop --firmware uefi' });
        return virtMachineOptions(request);
      }
      return request.uefi ? uefiMachineOptions(request, request.uefi) : pcMachineOptions(request);
    case 'efi':
    case 'disk':
      if (!request.uefi) throw new KilnError(ErrorCodes.USAGE, `a ${target.name} image boots only through UEFI firmware`, { hint: 'launch it with --firmware uefi (the default for it)' });
      return uefiMachineOptions(request, request.uefi);
    case 'microvm':
      return microvmMachineOptions(request);
    case 'xen-host':
      return xenHostMachineOptions(request);
    case 'xen':
      throw new KilnError(ErrorCodes.TARGET_UNAVAILABLE, 'a xen image runs under Xen (xl create), not QEMU', {
        hint: 'on a Xen dom0 run `xl create xl.cfg` in the image directory, or bake with --target qemu or microvm to run it here',
      });
  }
}
