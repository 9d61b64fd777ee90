import { DEBUG_EXIT_PORT } from '../qemu/machine.js';
import type { MachineRequest } from '../types.js';
import type { QemuOption } from '../qemu/options.js';
import { bootCoreOptions, peripheralOptions } from '../qemu/peripherals.js';

/** The second legacy COM port, where the status channel goes (the first is the console). */
const COM2 = { iobase: '0x2f8', irq: 3 };

/**
 * The kernel flag that skips TSC calibration. Under TCG the guest's TSC is the host's own
 * (QEMU returns the host counter), and microvm's calibration against the emulated PIT fails now
 * and then ("Unable to calibrate against PIT", then a hang: 1 boot in 20 here). Giving the
 * host's real frequency keeps guest time right; a made-up constant would make it run fast or
 * slow. Under KVM the kernel reads the frequency from KVM itself, so nothing is added.
 */
export function tscCmdline(request: Pick<MachineRequest, 'accel' | 'hostTscKhz'>): string[] {
  return request.accel === 'tcg' && request.hostTscKhz ? [`tsc_early_khz=${request.hostTscKhz}`] : [];
}

/**
 * QEMU options for the `microvm` target: QEMU's minimal `microvm` machine, no PCI, virtio
 * devices on the MMIO transport, the uncompressed PVH vmlinux loaded directly. ACPI stays on:
 * the Debian kernel does not set CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, so it finds the
 * virtio-mmio devices only through the ACPI tables (and the power button through ACPI GED).
 * The ISA bus still has legacy serial ports and isa-debug-exit, so the status channel and the
 * exit report work as on `pc`. Pure: golden-tested in test/unit/targets-microvm.test.ts.
 */
export function microvmMachineOptions(request: MachineRequest): QemuOption[] {
  const cmdline = [request.cmdline, ...tscCmdline(request)].join(' ');
  const options: QemuOption[] = [
    ...bootCoreOptions(request, { kind: 'machine', type: 'microvm', props: { acpi: true } }, cmdline),
    { kind: 'serial', chardev: 'console' },
    { kind: 'chardev', backend: 'file', id: 'status', props: { path: request.statusPath } },
    { kind: 'device', driver: 'isa-serial', props: { chardev: 'status', iobase: COM2.iobase, irq: COM2.irq } },
    { kind: 'device', driver: 'isa-debug-exit', props: { iobase: `0x${DEBUG_EXIT_PORT.toString(16)}`, iosize: '0x04' } },
    { kind: 'device', driver: 'virtio-rng-device' },
    { kind: 'qmp', socketPath: request.qmpSocketPath },
  ];
  options.push(...peripheralOptions(request, 'mmio'));
  return options;
}
