import { DEBUG_EXIT_PORT } from '../qemu/machine.js';
import type { DiskTarget, EfiTarget } from '../types.js';

/** Guest devices and plumbing are the `qemu` target's: only the way the kernel is booted differs. */
const PC_GUEST = {
  componentSets: ['virtio-pci', 'virtio-net', 'virtio-blk', 'virtio-rng', 'acpi-power'],
  kernel: 'bzimage',
  cmdline: ['console=ttyS0', 'rdinit=/kiln/init', 'panic=-1', 'quiet'],
  console: 'ttyS0',
  configDelivery: 'uki-relink',
  statusDevice: '/dev/ttyS1',
  exit: { kind: 'isa-debug-exit', port: DEBUG_EXIT_PORT },
  networks: ['user', 'tap'],
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

/**
 * The `disk` target: a GPT disk (disk.raw) with one EFI system partition holding the UKI at
 * \EFI\BOOT\BOOTX64.EFI, the path UEFI firmware boots when it has no boot entries (a cloud VM's
 * first boot). `kiln export --disk qcow2|vmdk|vhd` converts it with qemu-img.
 */
export const diskTarget: DiskTarget = {
  name: 'disk',
  arch: 'x86_64',
  description: 'GPT disk image with an EFI system partition (raw; qcow2/vmdk/vhd by export) for clouds',
  ...PC_GUEST,
  // The clouds' own devices besides virtio-blk/net: NVMe disks (EC2 Nitro, GCE), virtio-scsi
  // disks (GCE's SCSI interface), Amazon ENA and Google gVNIC network.
  componentSets: [...PC_GUEST.componentSets, 'virtio-scsi', 'nvme', 'ena', 'gve'],
  boot: 'gpt-esp-uki',
  artifacts: ['kiln.efi', 'disk.raw'],
};

/**
 * What the UKI inside an efi/disk image carries for firmware other than kiln's launch (real
 * machines, clouds): status lines on the console and power-off at the end, since there is no
 * second serial port nor isa-debug-exit there; DHCP on eth0.
 */
export const STANDALONE_PLUMBING = { statusDevice: '/dev/ttyS0', exit: { kind: 'poweroff' } } as const;
