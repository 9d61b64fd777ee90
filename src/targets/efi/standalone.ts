import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { KilnError, ErrorCodes } from '../../errors.js';
import type { RuntimeConfig } from '../../config/runtime.js';
import type { WireRecord } from '../../config/wire.js';
import type { ImageManifest } from '../../image/manifest.js';
import { runtimeArchive, writeInitrdWithConfig } from '../runtime-archive.js';
import type { SigningRequest } from '../types.js';
import { signPe } from './sign.js';
import { buildUki, ukiOsRelease } from './uki.js';

/**
 * What the UKI inside an efi/disk image carries for firmware other than kiln's launch (real
 * machines, clouds): status lines on the console and power-off at the end, since there is no
 * second serial port nor isa-debug-exit there; DHCP on eth0.
 */
export const STANDALONE_PLUMBING = { statusDevice: '/dev/ttyS0', exit: { kind: 'poweroff' } } as const;

/**
 * What a UKI booted by other firmware (a cloud, a real machine) configures: DHCP on eth0, best
 * effort, because nobody asked for it: a disk booted without a NIC, or where no DHCP server
 * answers, still runs its app (the shim warns on the console and keeps asking).
 */
export const STANDALONE_CONFIG: RuntimeConfig = { version: 1, network: { interfaces: [{ name: 'eth0', dhcp: true, optional: true }], dns: [] } };

/** kiln.efi: the image's kernel and initrd, with the standalone runtime config (and `extra` records), in one UKI. */
export async function writeStandaloneUki(dir: string, manifest: ImageManifest, extra: readonly WireRecord[] = [], signing?: SigningRequest): Promise<string> {
  const initrd = join(dir, '.uki-initrd.cpio');
  const out = join(dir, 'kiln.efi');
  try {
    await writeInitrdWithConfig(join(dir, manifest.initrd.file), initrd, runtimeArchive(manifest, STANDALONE_PLUMBING, STANDALONE_CONFIG, extra));
    await buildUki({ kernelPath: join(dir, manifest.kernel.file), initrdPath: initrd, cmdline: manifest.cmdline, osRelease: ukiOsRelease(manifest), outPath: out });
    if (signing) await signPe(out, signing);
  } finally {
    await rm(initrd, { force: true });
  }
  return out;
}

/** efi and disk refuse a direct kernel boot: their images boot through UEFI firmware only. */
export function uefiOnly(name: string): never {
  throw new KilnError(ErrorCodes.USAGE, `a ${name} image boots only through UEFI firmware`, { hint: 'launch it with --firmware uefi (the default for it)' });
}
