import type { MachineRequest } from '../types.js';
import type { QemuOption } from '../qemu/options.js';
import { bootCoreOptions, peripheralOptions } from '../qemu/peripherals.js';

/**
 * The CPU model under TCG. cortex-a57 is a plain ARMv8.0 core: the arm64 cloud kernel boots
 * to the shim in ~2.5 s with it, against ~3.4 s with `max`, whose extra features (pointer
 * authentication, SVE, MTE) QEMU emulates at a cost on every function entry and return.
 */
export const VIRT_TCG_CPU = 'cortex-a57';

/**
 * QEMU options for the aarch64 `qemu` target (src/targets/virt/driver.ts): the `virt` board
 * with nothing we did not ask for, the console on its PL011, the status channel on a PCI
 * 16550 UART, and the same virtio-pci devices as the x86 `pc` machine. Pure: golden-tested in
 * test/unit/targets-virt.test.ts.
 */
export function virtMachineOptions(request: MachineRequest): QemuOption[] {
  const options: QemuOption[] = [
    ...bootCoreOptions(request, { kind: 'machine', type: 'virt' }, request.cmdline, { model: VIRT_TCG_CPU }),
    { kind: 'serial', chardev: 'console' },
    { kind: 'chardev', backend: 'file', id: 'status', props: { path: request.statusPath } },
    { kind: 'device', driver: 'pci-serial', props: { chardev: 'status' } },
    { kind: 'device', driver: 'virtio-rng-pci' },
    { kind: 'qmp', socketPath: request.qmpSocketPath },
  ];
  options.push(...peripheralOptions(request, 'pci'));
  return options;
}
