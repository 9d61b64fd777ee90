import { appendFile, copyFile } from 'node:fs/promises';
import { runtimeConfigArchive } from '../init/config-archive.js';
import type { RuntimeConfig } from '../config/runtime.js';
import type { WireRecord } from '../config/wire.js';
import type { ImageManifest } from '../image/manifest.js';
import { appDefaults, runtimeConfRecords, type GuestPlumbing } from '../init/contract.js';

/**
 * The newc archive that carries one instance's runtime config for an image: its records are
 * the image's app defaults with `config` laid over, the status channel and exit of `plumbing`,
 * then `extra` records (a data partition's volume block).
 */
export function runtimeArchive(manifest: Pick<ImageManifest, 'app'>, plumbing: GuestPlumbing, config: RuntimeConfig, extra: readonly WireRecord[] = []): Buffer {
  return runtimeConfigArchive([...runtimeConfRecords(appDefaults(manifest), config, plumbing), ...extra], config);
}

/** Writes `initrd` + the runtime archive for `config` to `outPath` (the image's initrd is untouched). */
export async function writeInitrdWithConfig(initrdPath: string, outPath: string, archive: Buffer): Promise<void> {
  await copyFile(initrdPath, outPath);
  await appendFile(outPath, archive);
}
