import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtimeConfigArchive } from '../init/config-archive.js';
import type { WireRecord } from '../config/wire.js';
import type { LoadedImage } from '../image/manifest.js';
import { writeInitrdWithConfig } from '../targets/runtime-archive.js';

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
export async function createRunDir(image: Pick<LoadedImage, 'initrdPath'>, records: readonly WireRecord[], configJson: unknown, parent = tmpdir()): Promise<RunDir> {
  const dir = await mkdtemp(join(parent, 'kiln-run-'));
  const runDir: RunDir = {
    dir,
    initrdPath: join(dir, 'initrd.cpio'),
    statusPath: join(dir, 'status'),
    qmpSocketPath: join(dir, 'qmp.sock'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  try {
    await writeInitrdWithConfig(image.initrdPath, runDir.initrdPath, runtimeConfigArchive(records, configJson));
    return runDir;
  } catch (error) {
    await runDir.remove();
    throw error;
  }
}
