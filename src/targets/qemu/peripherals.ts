import type { MachineRequest } from '../types.js';
import type { QemuOption } from './options.js';

/**
 * What every direct-kernel-boot machine starts with: nothing QEMU would add by default, the
 * machine type, accelerator and CPU, memory, the kernel with its initrd and command line, and
 * the console chardev (a log file for detached instances, stdio otherwise).
 */
export function bootCoreOptions(
  request: MachineRequest,
  machine: Extract<QemuOption, { kind: 'machine' }>,
  cmdline: string,
  tcgCpu: Omit<Extract<QemuOption, { kind: 'cpu' }>, 'kind'> = { model: 'max' },
): QemuOption[] {
  return [
    { kind: 'flag', name: 'nodefaults' },
    { kind: 'flag', name: 'no-user-config' },
    { kind: 'flag', name: 'no-reboot' },
    { kind: 'display', type: 'none' },
    machine,
    { kind: 'accel', accel: request.accel },
    request.accel === 'kvm' ? { kind: 'cpu', model: 'host' } : { kind: 'cpu', ...tcgCpu },
    { kind: 'memory', mib: request.memoryMiB },
    { kind: 'smp', cpus: request.cpus },
    { kind: 'kernel', path: request.kernelPath },
    { kind: 'initrd', path: request.initrdPath },
    { kind: 'append', cmdline },
    request.consoleLogPath
      ? { kind: 'chardev', backend: 'file', id: 'console', props: { path: request.consoleLogPath, append: true } }
      : { kind: 'chardev', backend: 'stdio', id: 'console', props: { signal: false } },
  ];
}

/** Which virtio transport a machine has: PCI on `pc`, MMIO on `microvm`. */
export type VirtioBus = 'pci' | 'mmio';

/** The same virtio device on either transport (virtio-net-pci / virtio-net-device). */
export function virtioDriver(device: 'net' | 'blk' | 'rng', bus: VirtioBus): string {
  return `virtio-${device}-${bus === 'pci' ? 'pci' : 'device'}`;
}

/**
 * What every machine adds after its own core: the user-mode network with its forwards, tap
 * interfaces, volume disks (found in the guest by serial), the gdb stub and a pid file.
 */
export function peripheralOptions(request: MachineRequest, bus: VirtioBus): QemuOption[] {
  const options: QemuOption[] = [];
  const nic = virtioDriver('net', bus);
  if (request.network.kind === 'user') {
    options.push({ kind: 'netdev-user', id: 'net0', forwards: request.network.forwards }, { kind: 'device', driver: nic, props: { netdev: 'net0' } });
  }
  (request.taps ?? []).forEach((tap, index) => {
    const id = `tap${index}`;
    options.push({ kind: 'netdev-tap', id, ifname: tap.ifname }, { kind: 'device', driver: nic, props: { netdev: id, mac: tap.mac } });
  });
  (request.drives ?? []).forEach((drive, index) => {
    const id = `vol${index}`;
    options.push(
      { kind: 'drive', id, path: drive.path, format: 'raw', readOnly: drive.readOnly },
      { kind: 'device', driver: virtioDriver('blk', bus), props: { drive: id, serial: drive.serial } },
    );
  });
  if (request.gdb) options.push({ kind: 'gdb', address: request.gdb.address, port: request.gdb.port });
  if (request.pidfilePath) options.push({ kind: 'pidfile', path: request.pidfilePath });
  return options;
}
