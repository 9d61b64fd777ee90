import { KilnError, ErrorCodes } from '../errors.js';
import { DEBUG_EXIT_PORT, pcMachineOptions } from './qemu/machine.js';
import type { QemuOption } from './qemu/options.js';
import { microvmMachineOptions } from './microvm/machine.js';
import { microvmTarget } from './microvm/target.js';
import { xenTarget } from './xen/target.js';
import { diskTarget, efiTarget } from './efi/target.js';
import { uefiMachineOptions } from './efi/machine.js';
import { HostProbe, type PlatformProbe } from './probe.js';
import type { MachineRequest, QemuTarget, Target, TargetName } from './types.js';

/** The `qemu` target: a classic `pc` machine with virtio-pci devices, booted with -kernel. */
export const qemuTarget: QemuTarget = {
  name: 'qemu',
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

export { microvmTarget, xenTarget, efiTarget, diskTarget };

const TARGETS: { [N in TargetName]: Extract<Target, { name: N }> } = {
  qemu: qemuTarget,
  microvm: microvmTarget,
  xen: xenTarget,
  efi: efiTarget,
  disk: diskTarget,
};

export function listTargets(): Target[] {
  return Object.values(TARGETS);
}

export function getTarget(name: string): Target {
  const target = Object.hasOwn(TARGETS, name) ? TARGETS[name as TargetName] : undefined;
  if (!target) {
    throw new KilnError(ErrorCodes.TARGET_UNKNOWN, `unknown target "${name}"`, {
      hint: `known targets: ${Object.keys(TARGETS).join(', ')}`,
    });
  }
  return target;
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

/** Probes every target, sharing the host facts (QEMU's version and machines) between them. */
export async function probeTargets(): Promise<{ target: Target; probe: TargetProbe }[]> {
  const host = new HostProbe();
  return Promise.all(listTargets().map(async (target) => ({ target, probe: await probeTarget(target, host) })));
}

/**
 * The QEMU options that boot an image of `target`: one function per target, chosen here so
 * launch never switches on target names. Targets QEMU cannot run are refused with the reason.
 */
export function qemuMachineOptions(target: Target, request: MachineRequest): QemuOption[] {
  switch (target.name) {
    case 'qemu':
      return request.uefi ? uefiMachineOptions(request, request.uefi) : pcMachineOptions(request);
    case 'efi':
    case 'disk':
      if (!request.uefi) throw new KilnError(ErrorCodes.USAGE, `a ${target.name} image boots only through UEFI firmware`, { hint: 'launch it with --firmware uefi (the default for it)' });
      return uefiMachineOptions(request, request.uefi);
    case 'microvm':
      return microvmMachineOptions(request);
    case 'xen':
      throw new KilnError(ErrorCodes.TARGET_UNAVAILABLE, 'a xen image runs under Xen (xl create), not QEMU', {
        hint: 'on a Xen dom0 run `xl create xl.cfg` in the image directory, or bake with --target qemu or microvm to run it here',
      });
  }
}

/**
 * Refuses, before anything is prepared, to `kiln launch` an image whose platform is not QEMU,
 * saying why this host cannot run it (no dom0, …) or what to run instead.
 */
export async function assertLaunchable(target: Target): Promise<void> {
  const platform = target.platforms[0]!;
  if (platform.kind === 'qemu') return;
  const probe = await new HostProbe().probe(platform);
  if (!probe.usable) {
    throw new KilnError(ErrorCodes.TARGET_UNAVAILABLE, `a ${target.name} image cannot be launched on this host`, {
      details: probe.reasons,
      hint: `bake the app with --target qemu or microvm to run it here; ${target.name} images run with ${platform.kind}`,
    });
  }
  throw new KilnError(ErrorCodes.TARGET_UNAVAILABLE, `kiln does not start ${platform.kind} itself yet`, {
    hint: platform.kind === 'xl' ? 'run `xl create xl.cfg` in the image directory' : `start it with ${platform.kind} using the files in the image directory`,
  });
}
