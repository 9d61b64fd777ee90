import { readFile, stat, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { KilnError, ErrorCodes } from '../../errors.js';
import type { ImageManifest } from '../../image/manifest.js';
import { run } from '../../util/exec.js';
import { placeSections, readPeLayout } from './pe.js';

/** Debian's systemd-boot EFI stub (package systemd-boot-efi): the UKI's boot code. */
export const EFI_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

export interface UkiInput {
  stubPath?: string;
  kernelPath: string;
  initrdPath: string;
  cmdline: string;
  /** os-release text for .osrel (boot menus show PRETTY_NAME). */
  osRelease: string;
  outPath: string;
}

/**
 * A Unified Kernel Image: the systemd EFI stub with the kernel, initrd, command line and
 * os-release added as PE sections (.linux, .initrd, .cmdline, .osrel). The stub finds them by
 * name, so they only have to lie after its own sections without overlapping; binutils' objcopy
 * adds them (Debian 12's systemd has no ukify).
 */
export async function buildUki(input: UkiInput): Promise<void> {
  const stubPath = input.stubPath ?? EFI_STUB;
  const stub = await readFile(stubPath).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.TOOL_MISSING, `the systemd EFI stub ${stubPath} is missing`, {
      hint: 'install Debian package systemd-boot-efi (apt-get install systemd-boot-efi)',
      cause: error,
    });
  });
  const work = await mkdtemp(join(tmpdir(), 'kiln-uki-'));
  try {
    const osrel = join(work, 'osrel');
    const cmdline = join(work, 'cmdline');
    await writeFile(osrel, input.osRelease);
    await writeFile(cmdline, input.cmdline);
    const files = [
      { name: '.osrel', path: osrel },
      { name: '.cmdline', path: cmdline },
      { name: '.linux', path: input.kernelPath },
      { name: '.initrd', path: input.initrdPath },
    ];
    const sized = await Promise.all(files.map(async (file) => ({ ...file, size: (await stat(file.path)).size })));
    const placed = placeSections(readPeLayout(stub, stubPath), sized);
    const argv: string[] = [];
    sized.forEach((file, index) => {
      argv.push('--add-section', `${file.name}=${file.path}`, '--change-section-vma', `${file.name}=0x${placed[index]!.vma.toString(16)}`);
    });
    await run('objcopy', [...argv, stubPath, input.outPath]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The .osrel section: boot menus show PRETTY_NAME. */
export function ukiOsRelease(manifest: Pick<ImageManifest, 'app' | 'kiln'>): string {
  const app = posix.basename(manifest.app.guestPath).replace(/[^A-Za-z0-9._-]/g, '_');
  return `ID=kiln\nNAME=kiln\nPRETTY_NAME="kiln ${app}"\nVERSION_ID=${manifest.kiln.version.replace(/[^A-Za-z0-9._-]/g, '_')}\n`;
}
