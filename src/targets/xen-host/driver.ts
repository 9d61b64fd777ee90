import { DEBUG_EXIT_PORT } from '../qemu/machine.js';
import type { TargetDriver, XenHostTarget } from '../types.js';
import { xenHostMachineOptions } from './machine.js';

/**
 * The `xen-host` target: a whole Xen machine. QEMU boots Debian's Xen hypervisor
 * (xen-hypervisor-4.17-amd64) by multiboot, and the image is its dom0: Debian's generic amd64
 * kernel (the cloud kernel has no XEN_DOM0) as a PV dom0 with the backends, the shim as its init
 * and the app as its one program, typically a script that starts xenstored, xenconsoled and
 * xl's guests (catalogue/xen-dom0). xen images then run inside it as PVH domUs: a Xen test
 * machine on a host without Xen, under KVM or TCG.
 *
 * Xen keeps the first serial port for its own console, which carries dom0's hvc0; dom0 drives
 * the second one (the status channel) and isa-debug-exit itself, as any PV dom0 may reach I/O
 * ports Xen does not use.
 */
export const xenHostTarget: XenHostTarget = {
  name: 'xen-host',
  arch: 'x86_64',
  description: "Xen 4.17 under QEMU (q35) with the image as its dom0: runs xen images as domUs (Debian's generic kernel, xl)",
  componentSets: ['xen-dom0', 'virtio-pci', 'virtio-net', 'virtio-blk', 'fs-ext4', 'acpi-power'],
  kernel: 'bzimage',
  kernelPackage: 'linux-image-amd64',
  hypervisor: { package: 'xen-hypervisor-4.17-amd64', file: '/boot/xen-4.17-amd64.gz' },
  boot: 'xen-multiboot',
  cmdline: ['console=hvc0', 'rdinit=/kiln/init', 'panic=-1', 'quiet'],
  console: 'hvc0',
  configDelivery: 'initrd-append',
  statusDevice: '/dev/ttyS1',
  exit: { kind: 'isa-debug-exit', port: DEBUG_EXIT_PORT },
  networks: ['user', 'tap'],
  platforms: [{ kind: 'qemu', machine: 'q35' }],
  artifacts: [],
};

/** QEMU boots the hypervisor with the image as dom0 (machine.ts); bake writes nothing for other tools. */
export const xenHostDriver: TargetDriver<XenHostTarget> = {
  target: xenHostTarget,
  machineOptions: xenHostMachineOptions,
  writeArtifacts: async () => {},
};
