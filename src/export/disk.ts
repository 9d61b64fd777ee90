import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { KilnError, ErrorCodes } from '../errors.js';
import type { LoadedImage } from '../image/manifest.js';
import { run } from '../util/exec.js';

export type DiskFormat = 'raw' | 'qcow2' | 'vmdk' | 'vhd';
export const DISK_FORMATS: readonly DiskFormat[] = ['raw', 'qcow2', 'vmdk', 'vhd'];

/**
 * qemu-img arguments per format, chosen for cloud import: a stream-optimised VMDK (what EC2's
 * and VMware's importers expect), a fixed-size VHD with the exact size kept (Azure requires
 * fixed VHDs on a 1 MiB boundary; EC2 accepts them too). Pure.
 */
export function qemuImgConvertArgs(format: DiskFormat, from: string, to: string): string[] {
  switch (format) {
    case 'raw':
      return ['convert', '-f', 'raw', '-O', 'raw', from, to];
    case 'qcow2':
      return ['convert', '-f', 'raw', '-O', 'qcow2', from, to];
    case 'vmdk':
      return ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', from, to];
    case 'vhd':
      return ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', from, to];
  }
}

export function parseDiskFormat(value: string): DiskFormat {
  if (!(DISK_FORMATS as readonly string[]).includes(value)) {
    throw new KilnError(ErrorCodes.USAGE, `unknown disk format "${value}"`, { hint: `use one of: ${DISK_FORMATS.join(', ')}` });
  }
  return value as DiskFormat;
}

/** Converts a disk image's disk.raw to `format` at `out` with qemu-img. */
export async function exportDisk(image: LoadedImage, format: DiskFormat, out: string): Promise<void> {
  if (image.manifest.target !== 'disk') {
    throw new KilnError(ErrorCodes.TARGET_CANNOT_CARRY, `only disk-target images hold a disk; this one is for ${image.manifest.target}`, {
      hint: 'bake the app again with --target disk',
    });
  }
  const raw = join(image.dir, 'disk.raw');
  await access(raw).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.IMAGE_INVALID, `${raw} is missing`, { cause: error, hint: 'bake the image again' });
  });
  await run('qemu-img', qemuImgConvertArgs(format, raw, out));
}
