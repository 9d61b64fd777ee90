import { pcMachineOptions } from '../qemu/machine.js';
import type { QemuOption } from '../qemu/options.js';
import type { MachineRequest, UefiBoot } from '../types.js';

export type { UefiBoot } from '../types.js';

/**
 * QEMU options for a UEFI boot on `pc`: the same machine and devices as the `qemu` target,
 * but OVMF in flash instead of -kernel/-initrd/-append, and a disk the firmware boots from
 * (its default path \EFI\BOOT\BOOTX64.EFI holds the UKI, which carries kernel, initrd and
 * cmdline). A directory ESP uses QEMU's read-only virtual FAT, so nothing is formatted per launch.
 */
export function uefiMachineOptions(request: MachineRequest, uefi: UefiBoot): QemuOption[] {
  const direct = new Set<QemuOption['kind']>(['kernel', 'initrd', 'append']);
  const options = pcMachineOptions(request).filter((option) => !direct.has(option.kind));
  const at = options.findIndex((option) => option.kind === 'smp') + 1;
  const boot: QemuOption[] = [
    { kind: 'pflash', unit: 0, path: uefi.codePath, readOnly: true },
    { kind: 'pflash', unit: 1, path: uefi.varsPath, readOnly: false },
    uefi.diskPath
      ? { kind: 'drive', id: 'boot', path: uefi.diskPath, format: 'raw', readOnly: !uefi.diskWritable }
      : { kind: 'drive', id: 'boot', path: `fat:${uefi.espDir!}`, format: 'raw', readOnly: true },
    { kind: 'device', driver: 'virtio-blk-pci', props: { drive: 'boot', bootindex: 0 } },
  ];
  options.splice(at, 0, ...boot);
  return options;
}
