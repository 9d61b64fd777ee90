import { KilnError, ErrorCodes } from '../../errors.js';
import { DEBUG_EXIT_PORT } from '../qemu/machine.js';
import type { MachineRequest } from '../types.js';
import type { QemuOption } from '../qemu/options.js';
import { bootCoreOptions, peripheralOptions } from '../qemu/peripherals.js';

/** Memory the machine has beyond dom0's (`-m`): room for the guests dom0 starts. */
export const XEN_HOST_GUEST_MIB = 1024;

/**
 * The CPU under TCG. Xen needs SVM with nested paging (npt) to run HVM and PVH guests at all
 * ("neither hap nor shadow paging available": Debian's Xen has no shadow paging); with
 * `-cpu max` Xen sees HAP but its PV dom0 dies on its first page fault, so kiln takes the
 * model Xen's own CI boots (qemu64 with svm) and adds npt.
 */
export const XEN_HOST_TCG_CPU = { model: 'qemu64', features: ['+svm', '+npt'] };

/** Xen's own command line: its console on COM1, dom0's memory fixed, guests' memory the rest. */
export function xenCommandLine(request: Pick<MachineRequest, 'memoryMiB' | 'cpus'>): string {
  return [`console=com1`, `dom0_mem=${request.memoryMiB}M,max:${request.memoryMiB}M`, `dom0_max_vcpus=${request.cpus}`, 'noreboot'].join(' ');
}

/**
 * QEMU options for the `xen-host` target: a q35 machine whose -kernel is the hypervisor, with
 * dom0's kernel (and its command line) and initrd as multiboot modules. The machine has the
 * dom0's memory (-m) plus XEN_HOST_GUEST_MIB for guests; Xen prints on COM1 (the console, which
 * also carries dom0's hvc0), dom0 writes the status lines to COM2. Pure.
 */
export function xenHostMachineOptions(request: MachineRequest): QemuOption[] {
  if (!request.hypervisorPath) throw new KilnError(ErrorCodes.IMAGE_INVALID, 'a xen-host image has no hypervisor to boot', { hint: 'bake it again with --target xen-host' });
  // Dom0 and guests share the CPUs: one more than dom0's lets a guest run beside it.
  const machine = { ...request, kernelPath: request.hypervisorPath, memoryMiB: request.memoryMiB + XEN_HOST_GUEST_MIB, cpus: request.cpus + 1 };
  const modules: QemuOption = { kind: 'multiboot-modules', modules: [{ path: request.kernelPath, cmdline: request.cmdline }, { path: request.initrdPath }] };
  const options: QemuOption[] = [
    ...bootCoreOptions(machine, { kind: 'machine', type: 'q35' }, xenCommandLine(request), XEN_HOST_TCG_CPU).map((option) => (option.kind === 'initrd' ? modules : option)),
    { kind: 'serial', chardev: 'console' },
    { kind: 'chardev', backend: 'file', id: 'status', props: { path: request.statusPath } },
    { kind: 'serial', chardev: 'status' },
    { kind: 'device', driver: 'isa-debug-exit', props: { iobase: `0x${DEBUG_EXIT_PORT.toString(16)}`, iosize: '0x04' } },
    { kind: 'qmp', socketPath: request.qmpSocketPath },
  ];
  options.push(...peripheralOptions(request, 'pci'));
  return options;
}
