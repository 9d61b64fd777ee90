import { appendFile, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecords, type WireRecord } from '../config/wire.js';
import { GUEST_CONFIG_JSON, GUEST_RUNTIME_CONF } from '../init/contract.js';
import type { LoadedImage } from '../image/manifest.js';
import { cpioBuffer } from '../rootfs/cpio.js';
import { canonicalJson } from '../util/fs.js';

/** The files one VM run needs besides the image, in a private directory removed afterwards. */
export interface RunDir {
  dir: string;
  initrdPath: string;
  statusPath: string;
  qmpSocketPath: string;
  remove(): Promise<void>;
}

/**
 * The per-launch initrd is the image's archive with a second newc archive appended that holds
 * /kiln/runtime.conf: the kernel unpacks concatenated archives in order, so one image serves
 * many instances without being rebaked or modified.
 */
export async function createRunDir(image: LoadedImage, records: readonly WireRecord[], configJson: unknown, parent = tmpdir()): Promise<RunDir> {
  const dir = await mkdtemp(join(parent, 'kiln-run-'));
  const runDir: RunDir = {
    dir,
    initrdPath: join(dir, 'initrd.cpio'),
    statusPath: join(dir, 'status'),
    qmpSocketPath: join(dir, 'qmp.sock'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  try {
    const runtimeArchive = cpioBuffer([
      { path: GUEST_RUNTIME_CONF, kind: 'file', mode: 0o644, source: { data: encodeRecords(records) } },
      { path: GUEST_CONFIG_JSON, kind: 'file', mode: 0o644, source: { data: Buffer.from(canonicalJson(configJson)) } },
    ]);
    await copyFile(image.initrdPath, runDir.initrdPath);
    await appendFile(runDir.initrdPath, runtimeArchive);
    return runDir;
  } catch (error) {
    await runDir.remove();
    throw error;
  }
}
