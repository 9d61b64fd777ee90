import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KilnError, ErrorCodes } from '../../errors.js';
import type { LoadedImage } from '../../image/manifest.js';
import type { Target, UefiBoot } from '../types.js';
import { copyOvmfVars, OVMF } from './firmware.js';
import { buildUki, ukiOsRelease } from './uki.js';

export type FirmwareChoice = 'bios' | 'uefi';

/** The firmware a launch uses: what the target needs, or what was asked if the target allows it. */
export function firmwareFor(target: Target, asked: FirmwareChoice | undefined): FirmwareChoice {
  const platform = target.platforms[0]!;
  const native: FirmwareChoice = platform.kind === 'qemu' && platform.firmware === 'uefi' ? 'uefi' : 'bios';
  if (asked === undefined || asked === native) return native;
  if (asked === 'bios') {
    throw new KilnError(ErrorCodes.USAGE, `a ${target.name} image boots only through UEFI firmware`, { hint: 'drop --firmware bios' });
  }
  // UEFI for a bzImage target works on pc (the kernel goes into a UKI); not on microvm or Xen.
  if (platform.kind !== 'qemu' || platform.machine !== 'pc') {
    throw new KilnError(ErrorCodes.USAGE, `--firmware uefi needs a pc machine, and a ${target.name} image runs on ${platform.kind === 'qemu' ? platform.machine : platform.kind}`, {
      hint: 'bake with --target efi (or qemu) to boot through UEFI',
    });
  }
  return 'uefi';
}

/**
 * Prepares one UEFI launch in its run directory: a UKI linked for this instance (its initrd
 * carries this instance's runtime config: a UKI cannot be appended to) at the ESP's default
 * boot path, and a private copy of OVMF's variable store.
 */
export async function prepareUefiBoot(image: LoadedImage, runDir: string, initrdPath: string): Promise<UefiBoot> {
  const varsPath = join(runDir, 'OVMF_VARS.fd');
  await copyOvmfVars(varsPath);
  const espDir = join(runDir, 'esp');
  await mkdir(join(espDir, 'EFI', 'BOOT'), { recursive: true });
  await buildUki({
    kernelPath: image.kernelPath,
    initrdPath,
    cmdline: image.manifest.cmdline,
    osRelease: ukiOsRelease(image.manifest),
    outPath: join(espDir, 'EFI', 'BOOT', 'BOOTX64.EFI'),
  });
  return { codePath: OVMF.code, varsPath, espDir };
}
