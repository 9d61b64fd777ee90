import { appendFile, copyFile } from 'node:fs/promises';
import type { RuntimeConfig } from '../config/runtime.js';
import { encodeRecords, type WireRecord } from '../config/wire.js';
import type { ImageManifest } from '../image/manifest.js';
import { GUEST_CONFIG_JSON, GUEST_RUNTIME_CONF, runtimeConfRecords } from '../init/contract.js';
import { cpioBuffer } from '../rootfs/cpio.js';
import { canonicalJson } from '../util/fs.js';
import type { Target } from './types.js';

/**
 * The newc archive that carries one instance's runtime config (/kiln/runtime.conf, plus the
 * JSON it came from for the app to read). Appended to an image's initrd, the kernel unpacks it
 * after the image's own archive. `extra` records (a data partition's volume block) go last.
 */
export function runtimeArchive(manifest: Pick<ImageManifest, 'app'>, target: Pick<Target, 'statusDevice' | 'exit'>, config: RuntimeConfig, extra: readonly WireRecord[] = []): Buffer {
  const { app } = manifest;
  const records = [
    ...runtimeConfRecords(
    { path: app.guestPath, args: app.args, env: app.env, ...(app.workdir ? { workdir: app.workdir } : {}) },
    config,
    { statusDevice: target.statusDevice, exit: target.exit },
    ),
    ...extra,
  ];
  return cpioBuffer([
    { path: GUEST_RUNTIME_CONF, kind: 'file', mode: 0o644, source: { data: encodeRecords(records) } },
    { path: GUEST_CONFIG_JSON, kind: 'file', mode: 0o644, source: { data: Buffer.from(canonicalJson(config)) } },
  ]);
}

/** Writes `initrd` + the runtime archive for `config` to `outPath` (the image's initrd is untouched). */
export async function writeInitrdWithConfig(initrdPath: string, outPath: string, archive: Buffer): Promise<void> {
  await copyFile(initrdPath, outPath);
  await appendFile(outPath, archive);
}
