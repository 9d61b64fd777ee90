import type { MachineRequest } from '../types.js';
import type { QemuOption } from './options.js';

/** The I/O port the shim writes to so QEMU exits at once (isa-debug-exit). */
export const DEBUG_EXIT_PORT = 0xf4;

/**
 * QEMU options for the `qemu` target: a `pc` machine with nothing we did not ask for
 * (-nodefaults), virtio-pci devices, the console on the first serial port and the status
 * channel on the second. Pure: golden-tested in test/unit/qemu-argv.test.ts.
 */
export function pcMachineOptions(request: MachineRequest): QemuOption[] {
  const options: QemuOption[] = [
    { kind: 'flag', name: 'nodefaults' },
    { kind: 'flag', name: 'no-user-config' },
    { kind: 'flag', name: 'no-reboot' },
    { kind: 'display', type: 'none' },
    { kind: 'machine', type: 'pc' },
    { kind: 'accel', accel: request.accel },
    { kind: 'cpu', model: request.accel === 'kvm' ? 'host' : 'max' },
    { kind: 'memory', mib: request.memoryMiB },
    { kind: 'smp', cpus: request.cpus },
    { kind: 'kernel', path: request.kernelPath },
    { kind: 'initrd', path: request.initrdPath },
    { kind: 'append', cmdline: request.cmdline },
    request.consoleLogPath
      ? { kind: 'chardev', backend: 'file', id: 'console', props: { path: request.consoleLogPath, append: true } }
      : { kind: 'chardev', backend: 'stdio', id: 'console', props: { signal: false } },
    { kind: 'serial', chardev: 'console' },
    { kind: 'chardev', backend: 'file', id: 'status', props: { path: request.statusPath } },
    { kind: 'serial', chardev: 'status' },
    { kind: 'device', driver: 'isa-debug-exit', props: { iobase: `0x${DEBUG_EXIT_PORT.toString(16)}`, iosize: '0x04' } },
    { kind: 'device', driver: 'virtio-rng-pci' },
    { kind: 'qmp', socketPath: request.qmpSocketPath },
  ];
  if (request.network.kind === 'user') {
    options.push(
      { kind: 'netdev-user', id: 'net0', forwards: request.network.forwards },
      { kind: 'device', driver: 'virtio-net-pci', props: { netdev: 'net0' } },
    );
  }
  (request.taps ?? []).forEach((tap, index) => {
    const id = `tap${index}`;
    options.push(
      { kind: 'netdev-tap', id, ifname: tap.ifname },
      { kind: 'device', driver: 'virtio-net-pci', props: { netdev: id, mac: tap.mac } },
    );
  });
  (request.drives ?? []).forEach((drive, index) => {
    const id = `vol${index}`;
    options.push(
      { kind: 'drive', id, path: drive.path, format: 'raw', readOnly: drive.readOnly },
      { kind: 'device', driver: 'virtio-blk-pci', props: { drive: id, serial: drive.serial } },
    );
  });
  if (request.gdb) options.push({ kind: 'gdb', address: request.gdb.address, port: request.gdb.port });
  if (request.pidfilePath) options.push({ kind: 'pidfile', path: request.pidfilePath });
  return options;
}
