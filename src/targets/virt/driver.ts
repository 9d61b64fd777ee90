import { ARCHS } from '../../arch.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import type { TargetDriver, VirtTarget } from '../types.js';
import { virtMachineOptions } from './machine.js';

/**
 * The `qemu` target for aarch64: QEMU's `virt` board, booted with -kernel from Debian's arm64
 * cloud kernel (an uncompressed Image). The board has one UART (a PL011, the console) and no
 * isa-debug-exit, so:
 *  - the status channel is a PCI 16550 UART (QEMU's pci-serial), which the arm64 cloud kernel
 *    drives built in (SERIAL_8250_PCI=y): it is ready before the shim runs, and, the board
 *    having no legacy ports, it is the guest's /dev/ttyS0;
 *  - the shim ends the VM with reboot(POWER_OFF), which the kernel turns into a PSCI
 *    SYSTEM_OFF call that makes QEMU exit; the exit value comes from the status line (which
 *    is the truth on every target, see docs/guest-contract.md).
 * Without firmware the kernel sees the board through its device tree, not ACPI: the power
 * button is line 3 of the board's PL061 GPIO controller (gpiochip0, the only one), which the
 * shim watches itself (src/init/shim/power-gpio.c; the cloud kernel has no gpio-keys driver).
 */
export const virtTarget: VirtTarget = {
  name: 'qemu',
  arch: 'aarch64',
  description: 'QEMU virt machine for aarch64 (TCG, or KVM on an arm64 host): virtio-pci devices, PL011 console, GPIO power button',
  componentSets: ['virtio-pci', 'virtio-net', 'virtio-blk', 'virtio-rng'],
  kernel: 'image',
  boot: 'arm64-image+initrd',
  // cma=0: the arm64 cloud kernel reserves 64 MiB for contiguous DMA at boot, which a small
  // guest cannot spare ("cma: Failed to reserve 64 MiB" on every console) and kiln's devices never need.
  cmdline: ['console=ttyAMA0', 'rdinit=/kiln/init', 'panic=-1', 'quiet', 'cma=0'],
  console: 'ttyAMA0',
  configDelivery: 'initrd-append',
  statusDevice: '/dev/ttyS0',
  exit: { kind: 'poweroff' },
  powerGpio: '/dev/gpiochip0:3',
  networks: ['user', 'tap'],
  platforms: [{ kind: 'qemu', machine: ARCHS.aarch64.qemuMachine, arch: 'aarch64' }],
  artifacts: [],
};

export const virtDriver: TargetDriver<VirtTarget> = {
  target: virtTarget,
  machineOptions: (request) => {
    if (request.uefi) throw new KilnError(ErrorCodes.USAGE, 'aarch64 images boot their kernel directly; kiln has no arm64 UEFI boot yet', { hint: 'drop --firmware uefi' });
    return virtMachineOptions(request);
  },
  writeArtifacts: async () => {},
};
