import type { MachineRequest } from '../types.js';
import type { QemuOption } from './options.js';
import { bootCoreOptions, peripheralOptions } from './peripherals.js';

/** The I/O port the shim writes to so QEMU exits at once (isa-debug-exit). */
export const DEBUG_EXIT_PORT = 0xf4;

/**
 * QEMU options for the `qemu` target: a `pc` machine with nothing we did not ask for
 * (-nodefaults), virtio-pci devices, the console on the first serial port and the status
 * channel on the second. Pure: golden-tested in test/unit/qemu-argv.test.ts.
 */
export function pcMachineOptions(request: MachineRequest): QemuOption[] {
  const options: QemuOption[] = [
    ...bootCoreOptions(request, { kind: 'machine', type: 'pc' }, request.cmdline),
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
