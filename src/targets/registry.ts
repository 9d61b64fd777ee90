import { KilnError, ErrorCodes } from '../errors.js';
import { ARCHS, DEFAULT_ARCH, getArch, type Arch } from '../arch.js';
import { diskDriver } from './disk/driver.js';
import { efiDriver } from './efi/driver.js';
import { microvmDriver } from './microvm/driver.js';
import { HostProbe, type PlatformProbe } from './probe.js';
import { qemuDriver } from './qemu/driver.js';
import type { QemuOption } from './qemu/options.js';
import type { MachineRequest, Target, TargetDriver, TargetName } from './types.js';
import { virtDriver } from './virt/driver.js';
import { xenDriver } from './xen/driver.js';
import { xenHostDriver } from './xen-host/driver.js';

/**
 * Every target driver kiln has, one per folder: the only list of targets. Adding a target is
 * adding a folder with its driver and a line here.
 */
const DRIVERS: readonly TargetDriver[] = [qemuDriver, microvmDriver, xenDriver, xenHostDriver, efiDriver, diskDriver, virtDriver];

export { qemuTarget } from './qemu/driver.js';
export { microvmTarget } from './microvm/driver.js';
export { xenTarget } from './xen/driver.js';
export { xenHostTarget } from './xen-host/driver.js';
export { efiTarget } from './efi/driver.js';
export { diskTarget } from './disk/driver.js';
export { virtTarget } from './virt/driver.js';

/** The targets of `arch` (default x86_64), in the order `kiln targets` lists them. */
export function listTargets(arch: Arch = DEFAULT_ARCH): Target[] {
  return DRIVERS.filter((driver) => driver.target.arch === arch).map((driver) => driver.target);
}

/** The target `name` for images of `arch` (default x86_64); unknown names and arches list the known ones. */
export function getTarget(name: string, arch: string = DEFAULT_ARCH): Target {
  const archName = getArch(arch).name;
  const target = listTargets(archName).find((candidate) => candidate.name === name);
  if (!target) {
    const elsewhere = Object.values(ARCHS).some((other) => listTargets(other.name).some((candidate) => candidate.name === name));
    throw new KilnError(ErrorCodes.TARGET_UNKNOWN, elsewhere ? `the ${name} target does not exist for ${archName} yet` : `unknown target "${name}"`, {
      hint: `known targets${archName === DEFAULT_ARCH ? '' : ` for ${archName}`}: ${listTargets(archName).map((known) => known.name).join(', ')}`,
    });
  }
  return target;
}

/** The driver of a target (found by name and architecture: a copy of a target finds its driver too). */
export function driverFor(target: Pick<Target, 'name' | 'arch'>): TargetDriver {
  const driver = DRIVERS.find((candidate) => candidate.target.name === target.name && candidate.target.arch === target.arch);
  if (!driver) throw new KilnError(ErrorCodes.TARGET_UNKNOWN, `unknown target "${target.name}" for ${target.arch}`);
  return driver;
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

/** The QEMU options that boot an image of `target`: its driver's; targets QEMU cannot run are refused with the reason. */
export function qemuMachineOptions(target: Pick<Target, 'name' | 'arch'>, request: MachineRequest): QemuOption[] {
  return driverFor(target).machineOptions(request);
}
