import { qemuTarget } from '../qemu/driver.js';
import type { EfiTarget, TargetDriver } from '../types.js';
import { uefiMachineOptions } from './machine.js';
import { uefiOnly, writeStandaloneUki } from './standalone.js';

/** Guest devices and plumbing are the `qemu` target's: only the way the kernel is booted differs. */
export const PC_GUEST = {
  componentSets: qemuTarget.componentSets,
  kernel: qemuTarget.kernel,
  cmdline: qemuTarget.cmdline,
  console: qemuTarget.console,
  configDelivery: 'uki-relink',
  statusDevice: qemuTarget.statusDevice,
  exit: qemuTarget.exit,
  networks: qemuTarget.networks,
  platforms: [{ kind: 'qemu', machine: 'pc', firmware: 'uefi' }],
} as const;

/**
 * The `efi` target: one PE file (kiln.efi), a Unified Kernel Image made from Debian's
 * systemd-boot EFI stub, the kernel, the initrd with a default runtime config and the cmdline.
 * Any UEFI firmware boots it; `kiln launch` boots it under OVMF.
 */
export const efiTarget: EfiTarget = {
  name: 'efi',
  arch: 'x86_64',
  description: 'Unified Kernel Image (kiln.efi) for UEFI firmware; launched under OVMF',
  ...PC_GUEST,
  boot: 'uki',
  artifacts: ['kiln.efi'],
};

export const efiDriver: TargetDriver<EfiTarget> = {
  target: efiTarget,
  machineOptions: (request) => (request.uefi ? uefiMachineOptions(request, request.uefi) : uefiOnly('efi')),
  async writeArtifacts(dir, manifest, signing) {
    await writeStandaloneUki(dir, manifest, [], signing);
  },
};
