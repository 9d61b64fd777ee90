import { stat } from 'node:fs/promises';
import { PC_GUEST } from '../efi/driver.js';
import { uefiMachineOptions } from '../efi/machine.js';
import { uefiOnly, writeStandaloneUki } from '../efi/standalone.js';
import type { DiskTarget, TargetDriver } from '../types.js';
import { dataPartitionRecords } from './data-partition.js';
import { buildEspDisk } from './gpt.js';

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

export const diskDriver: TargetDriver<DiskTarget> = {
  target: diskTarget,
  machineOptions: (request) => (request.uefi ? uefiMachineOptions(request, request.uefi) : uefiOnly('disk')),
  async writeArtifacts(dir, manifest, signing) {
    const uki = await writeStandaloneUki(dir, manifest, dataPartitionRecords(manifest.dataPartition), signing);
    await buildEspDisk(dir, uki, (await stat(uki)).size, manifest.kernel.sha256 + manifest.initrd.sha256, manifest.dataPartition);
  },
};
