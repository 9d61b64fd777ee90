import { lstat, mkdir, open, readdir, rename, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Volume } from '../config/runtime.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { volumeSerial } from '../init/contract.js';
import { run } from '../util/exec.js';

/** A volume resolved to a disk image QEMU can attach. */
export interface PreparedVolume {
  /** The raw ext4 image attached as virtio-blk. */
  path: string;
  readOnly: boolean;
  serial: string;
  target: string;
  /** `copy`: made from a host directory (the directory itself is never changed); `image`: the user's own file. */
  kind: 'copy' | 'image';
  /** For `copy`: whether the image was made now or an existing one (an instance's earlier run) was reused. */
  reused?: boolean;
}

const MiB = 1024 * 1024;

/**
 * Turns the runtime config's volumes into disks. A host directory becomes a fresh ext4 image
 * (`mke2fs -d`, no root needed) in `imageDir`; when that image already exists (an instance
 * being restarted) it is reused, so what the app wrote survives restarts. An image file is
 * attached as it is: writes go straight into the user's file.
 */
export async function prepareVolumes(volumes: readonly Volume[], imageDir: string): Promise<PreparedVolume[]> {
  const prepared: PreparedVolume[] = [];
  for (const [index, volume] of volumes.entries()) {
    const source = resolve(volume.source);
    const serial = volumeSerial(index);
    const readOnly = volume.readOnly ?? false;
    const kind = await sourceKind(source);
    if (kind === 'image') {
      prepared.push({ path: source, readOnly, serial, target: volume.target, kind: 'image' });
    } else {
      const path = join(imageDir, `volume-${index}.img`);
      const existing = await stat(path).catch(() => undefined);
      if (!existing) {
        await mkdir(imageDir, { recursive: true });
        // Made under a temporary name: an image cut short by a kill is never reused as complete.
        const partial = `${path}.partial-${process.pid}`;
        await makeExt4FromDirectory(source, partial, await imageSizeFor(source));
        await rename(partial, path);
      }
      prepared.push({ path, readOnly, serial, target: volume.target, kind: 'copy', reused: existing !== undefined });
    }
  }
  return prepared;
}

/** Checks that every source exists and has the right kind, without making anything (for `launch -d`). */
export async function checkVolumeSources(volumes: readonly Volume[]): Promise<void> {
  for (const volume of volumes) await sourceKind(resolve(volume.source));
}

/** A directory (to be copied into an image) or an ext4 image file; anything else is refused. */
async function sourceKind(source: string): Promise<'directory' | 'image'> {
  const info = await stat(source).catch((error: NodeJS.ErrnoException) => {
    throw new KilnError(ErrorCodes.VOLUME_INVALID, `volume source ${source} ${error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code})`}`, {
      hint: 'give an existing host directory or ext4 image file: -v HOSTPATH:GUESTPATH[:ro]',
      cause: error,
    });
  });
  if (info.isDirectory()) return 'directory';
  if (!info.isFile()) throw new KilnError(ErrorCodes.VOLUME_INVALID, `volume source ${source} is neither a directory nor a regular file`);
  await assertExt4(source);
  return 'image';
}

/**
 * Room for the copied files plus as much again and 64 MiB for the app to write (at least
 * 128 MiB). The image file is sparse, so unused room costs no disk space on the host.
 */
export async function imageSizeFor(dir: string): Promise<number> {
  const used = await treeBytes(dir);
  const bytes = Math.max(128 * MiB, used * 2 + 64 * MiB);
  return Math.ceil(bytes / MiB) * MiB;
}

async function treeBytes(dir: string): Promise<number> {
  let total = 4096;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(path);
    else total += Math.ceil((await lstat(path)).size / 4096) * 4096 + 4096; // data blocks + its inode's share
  }
  return total;
}

/** `mke2fs -d` copies a directory tree into a new file system without mounting it (no root). */
export async function makeExt4FromDirectory(sourceDir: string, imagePath: string, sizeBytes: number): Promise<void> {
  const result = await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-m', '0', '-L', 'kiln-volume', '-d', sourceDir, imagePath, `${Math.ceil(sizeBytes / 1024)}k`]);
  if (result.code !== 0) {
    throw new KilnError(ErrorCodes.TOOL_FAILED, `mke2fs could not make a volume image from ${sourceDir}`, {
      details: result.stderr.trim().split('\n').slice(-5),
      hint: 'check that the directory is readable and that there is space for the image',
    });
  }
}

/** The ext2/3/4 superblock magic 0xEF53 sits at byte 1024+56; anything else will not mount. */
async function assertExt4(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(2);
    await handle.read(buffer, 0, 2, 1024 + 56);
    if (buffer.readUInt16LE(0) !== 0xef53) {
      throw new KilnError(ErrorCodes.VOLUME_INVALID, `volume image ${path} is not an ext2/3/4 file system`, {
        hint: 'make one with `mke2fs -t ext4 -d DIR FILE.img 256M`, or pass the directory itself',
      });
    }
  } finally {
    await handle.close();
  }
}
