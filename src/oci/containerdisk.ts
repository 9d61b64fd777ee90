import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Header } from 'tar';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { exportDisk } from '../export/disk.js';
import type { LoadedImage } from '../image/manifest.js';
import { canonicalJson } from '../util/fs.js';
import { sha256Digest, type Descriptor } from './client.js';
import { createdAnnotation, ociArchitecture, type BuiltManifest } from './layout.js';
import { OCI_IMAGE_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST } from './media-types.js';
import { ociRoot } from './store.js';

/**
 * A KubeVirt containerDisk: an ordinary container image whose one layer holds the disk as
 * `/disk/disk.qcow2`, owned by uid/gid 107 (the qemu user of KubeVirt's virt-launcher), as
 * KubeVirt's documentation builds it (`ADD --chown=107:107 disk.qcow2 /disk/`). The layer is
 * an uncompressed tar written here with fixed owners, modes and times, and the qcow2 comes from
 * `qemu-img convert`, which is deterministic: one disk image gives one digest.
 */
export const CONTAINERDISK_PATH = 'disk/disk.qcow2';
const QEMU_UID = 107;

export interface ContainerDisk {
  built: BuiltManifest;
  config: { descriptor: Descriptor; bytes: Buffer };
  layer: { descriptor: Descriptor; path: string };
  /** Removes the temporary layer file. */
  cleanup(): Promise<void>;
}

function tarHeader(path: string, type: 'File' | 'Directory', size: number, mode: number, mtime: Date): Buffer {
  const block = Buffer.alloc(512);
  new Header({ path, type, size, mode, uid: QEMU_UID, gid: QEMU_UID, uname: '', gname: '', mtime }).encode(block, 0);
  return block;
}

/** Writes the layer tar (and hashes it as it goes) from the image's qcow2. */
async function writeLayer(qcow2: string, out: string, mtime: Date): Promise<{ digest: string; size: number }> {
  const size = (await stat(qcow2)).size;
  const hash = createHash('sha256');
  const stream = createWriteStream(out);
  let written = 0;
  const write = (chunk: Buffer) =>
    new Promise<void>((resolve, reject) => {
      hash.update(chunk);
      written += chunk.length;
      stream.write(chunk, (error) => (error ? reject(error) : resolve()));
    });
  await write(tarHeader('disk/', 'Directory', 0, 0o555, mtime));
  await write(tarHeader(CONTAINERDISK_PATH, 'File', size, 0o444, mtime));
  for await (const chunk of createReadStream(qcow2)) await write(chunk as Buffer);
  await write(Buffer.alloc((512 - (size % 512)) % 512));
  await write(Buffer.alloc(1024)); // two empty blocks end the archive
  await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return { digest: `sha256:${hash.digest('hex')}`, size: written };
}

export async function buildContainerDisk(ctx: Context, image: LoadedImage): Promise<ContainerDisk> {
  if (image.manifest.target !== 'disk') {
    throw new KilnError(ErrorCodes.TARGET_CANNOT_CARRY, `--containerdisk needs a disk-target image; ${image.dir} is for ${image.manifest.target}`, { hint: 'bake it with --target disk (kiln bake APP --target disk -o app.disk)' });
  }
  const work = join(ociRoot(ctx), 'tmp');
  await mkdir(work, { recursive: true });
  const dir = await mkdtemp(join(work, 'containerdisk-'));
  try {
    // A qcow2 written by bake --format qcow2 is the same bytes qemu-img makes here.
    let qcow2 = join(image.dir, 'disk.qcow2');
    if (!(await access(qcow2).then(() => true, () => false))) {
      qcow2 = join(dir, 'disk.qcow2');
      await exportDisk(image, 'qcow2', qcow2);
    }
    const created = createdAnnotation(ctx.env.SOURCE_DATE_EPOCH);
    const layerPath = join(dir, 'layer.tar');
    const { digest, size } = await writeLayer(qcow2, layerPath, new Date(created));
    const layer: Descriptor = { mediaType: OCI_LAYER_TAR, digest, size };
    const configBytes = Buffer.from(canonicalJson({
      architecture: ociArchitecture(image.manifest.arch),
      os: 'linux',
      created,
      config: { Labels: { 'dev.kiln.image.target': 'disk' } },
      rootfs: { type: 'layers', diff_ids: [digest] },
      history: [{ created, created_by: 'kiln push --containerdisk' }],
    }));
    const config: Descriptor = { mediaType: OCI_IMAGE_CONFIG, digest: sha256Digest(configBytes), size: configBytes.length };
    const manifestBytes = Buffer.from(canonicalJson({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config,
      layers: [layer],
      annotations: { 'org.opencontainers.image.created': created, 'org.opencontainers.image.title': `${image.manifest.app.guestPath.split('/').pop() ?? 'app'} (KubeVirt containerDisk)` },
    }));
    return {
      built: { bytes: manifestBytes, descriptor: { mediaType: OCI_MANIFEST, digest: sha256Digest(manifestBytes), size: manifestBytes.length } },
      config: { descriptor: config, bytes: configBytes },
      layer: { descriptor: layer, path: layerPath },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
