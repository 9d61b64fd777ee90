import { ARCHS } from '../../arch.js';
import type { QemuTarget, TargetDriver } from '../types.js';
import { uefiMachineOptions } from '../efi/machine.js';
import { DEBUG_EXIT_PORT, pcMachineOptions } from './machine.js';

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
  platforms: [{ kind: 'qemu', machine: ARCHS.x86_64.qemuMachine }],
  artifacts: [],
};

/** QEMU boots it directly (-kernel), or through OVMF from a per-instance UKI with --firmware uefi. */
export const qemuDriver: TargetDriver<QemuTarget> = {
  target: qemuTarget,
  machineOptions: (request) => (request.uefi ? uefiMachineOptions(request, request.uefi) : pcMachineOptions(request)),
  writeArtifacts: async () => {},
};
