import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '../../util/fs.js';
import { DEBUG_EXIT_PORT } from '../qemu/machine.js';
import { runtimeArchive, writeInitrdWithConfig } from '../runtime-archive.js';
import type { MicrovmTarget, TargetDriver } from '../types.js';
import { FIRECRACKER_DEFAULT_CONFIG, FIRECRACKER_NET, firecrackerConfig } from './firecracker.js';
import { microvmMachineOptions } from './machine.js';

/**
 * The `microvm` target: no PCI, no firmware tables beyond ACPI, virtio over MMIO, the
 * uncompressed PVH vmlinux. The same image runs on QEMU `-M microvm` (kiln launch) and on
 * Firecracker (firecracker.json, written at bake, with its own initrd carrying a default config).
 */
export const microvmTarget: MicrovmTarget = {
  name: 'microvm',
  arch: 'x86_64',
  description: 'QEMU microvm / Firecracker: virtio-mmio devices, PVH vmlinux, no PCI',
  componentSets: ['virtio-mmio', 'virtio-net', 'virtio-blk', 'virtio-rng', 'acpi-power'],
  kernel: 'vmlinux',
  boot: 'pvh-vmlinux+initrd',
  // No PCI bus on microvm: pci=off saves the probe and its "PCI: Fatal" line on the console.
  cmdline: ['console=ttyS0', 'rdinit=/kiln/init', 'panic=-1', 'quiet', 'pci=off'],
  console: 'ttyS0',
  configDelivery: 'initrd-append',
  statusDevice: '/dev/ttyS1',
  exit: { kind: 'isa-debug-exit', port: DEBUG_EXIT_PORT },
  networks: ['user', 'tap'],
  platforms: [{ kind: 'qemu', machine: 'microvm' }, { kind: 'firecracker' }],
  artifacts: ['firecracker.json', 'firecracker-initrd.cpio'],
};

/**
 * Firecracker has one serial port and no isa-debug-exit, so under it the status lines go to
 * the console and the shim powers off; `reboot=k` makes a guest reboot end Firecracker too.
 */
export const FIRECRACKER_PLUMBING = {
  statusDevice: '/dev/ttyS0',
  exit: { kind: 'poweroff' },
  extraCmdline: ['reboot=k'],
} as const;

/**
 * QEMU runs it as `-M microvm`; for Firecracker bake writes firecracker.json and an initrd with
 * a default runtime config (Firecracker reads its config from a file, and has no second port).
 */
export const microvmDriver: TargetDriver<MicrovmTarget> = {
  target: microvmTarget,
  machineOptions: microvmMachineOptions,
  async writeArtifacts(dir, manifest) {
    const [configFile, initrdFile] = microvmTarget.artifacts as [string, string];
    await writeInitrdWithConfig(join(dir, manifest.initrd.file), join(dir, initrdFile), runtimeArchive(manifest, FIRECRACKER_PLUMBING, FIRECRACKER_DEFAULT_CONFIG));
    const config = firecrackerConfig({
      kernelFile: manifest.kernel.file,
      initrdFile,
      bootArgs: [manifest.cmdline, ...FIRECRACKER_PLUMBING.extraCmdline].join(' '),
      memoryMiB: manifest.memory.defaultMiB,
      cpus: 1,
      taps: [{ hostDevName: FIRECRACKER_NET.tap, guestMac: FIRECRACKER_NET.guestMac }],
    });
    await writeFile(join(dir, configFile), canonicalJson(config));
  },
};
