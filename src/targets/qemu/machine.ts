import type { MachineRequest } from '../types.js';
import type { QemuOption } from './options.js';
import { peripheralOptions } from './peripherals.js';

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
  options.push(...peripheralOptions(request, 'pci'));
  return options;
}
