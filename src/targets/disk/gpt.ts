import { open, rm, truncate } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { run } from '../../util/exec.js';

/**
 * A GPT disk image holding one EFI system partition, built without root: the FAT file system
 * is made in a plain file (dosfstools' mkfs.fat, then mtools to add files), the partition
 * table is written by sfdisk on the image file, and the ESP is copied in at its offset.
 */
const MiB = 1024 * 1024;
/** Partitions start at 1 MiB (the usual alignment); the backup GPT needs 33 sectors at the end. */
const FIRST_LBA = 2048;
const SECTOR = 512;
/** 1980-01-01 00:00:00 UTC, the earliest time FAT can store. */
const FAT_EPOCH = 315532800;
/** The ESP type GUID from the UEFI spec. */
export const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
/** "Linux filesystem data", the type GUID of a plain Linux partition. */
export const LINUX_DATA_TYPE = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

/** A GUID derived from content, so the same image always gets the same disk and partition ids. */
export function stableGuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  h[6] = (h[6]! & 0x0f) | 0x40; // version 4 layout
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`.toUpperCase();
}

/** The sfdisk script for a disk with one ESP of `espSectors` sectors, then the data partition if any. Pure. */
export function gptScript(espSectors: number, seed: string, data?: { sectors: number; name: string }): string {
  return [
    'label: gpt',
    `label-id: ${stableGuid(`${seed}/disk`)}`,
    'unit: sectors',
    `start=${FIRST_LBA}, size=${espSectors}, type=${ESP_TYPE}, uuid=${stableGuid(`${seed}/esp`)}, name="EFI system partition"`,
    ...(data ? [`start=${FIRST_LBA + espSectors}, size=${data.sectors}, type=${LINUX_DATA_TYPE}, uuid=${stableGuid(`${seed}/data`)}, name="${data.name}"`] : []),
    '',
  ].join('\n');
}

/**
 * An empty ext4 file system of `sizeMiB`, labelled `label`, written by mke2fs straight into
 * `path` at byte `offset` (a partition of a disk image: no copy, only metadata is written).
 * Same inputs, same bytes: UUID and hash seed come from the seed, mke2fs's clock is fixed by
 * E2FSPROGS_FAKE_TIME, and the root directory is root's whoever bakes.
 */
export async function makeExt4(path: string, sizeMiB: number, label: string, seed: string, offset = 0): Promise<void> {
  const uuid = stableGuid(`${seed}/ext4`).toLowerCase();
  const env = { ...process.env, E2FSPROGS_FAKE_TIME: String(FAT_EPOCH) };
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', label, '-U', uuid, '-E', `offset=${offset},hash_seed=${uuid},root_owner=0:0`, path, `${sizeMiB}M`], { env });
}

export function espSizeBytes(payloadBytes: number): number {
  // FAT32 needs ≥ 65525 clusters (32 MiB with 512-byte clusters); 64 MiB is the common minimum ESP.
  return Math.max(64 * MiB, Math.ceil((payloadBytes + 8 * MiB) / MiB) * MiB);
}

/** Makes a FAT32 ESP image at `espPath` with `files` (guest path → host path) in it. */
export async function makeEsp(espPath: string, files: readonly { path: string; hostPath: string }[], sizeBytes: number, seed: string): Promise<void> {
  await rm(espPath, { force: true });
  const volumeId = stableGuid(`${seed}/fat`).slice(0, 8);
  await run('mkfs.fat', ['--invariant', '-F', '32', '-S', String(SECTOR), '-s', '1', '-n', 'KILN-ESP', '-i', volumeId, '-C', espPath, String(sizeBytes / 1024)]);
  // A fixed time for the FAT directory entries (mtools reads SOURCE_DATE_EPOCH): same input, same bytes.
  const env = { ...process.env, MTOOLS_SKIP_CHECK: '1', SOURCE_DATE_EPOCH: String(FAT_EPOCH) };
  const dirs = new Set<string>();
  for (const file of files) {
    for (let dir = dirname(file.path); dir !== '/' && dir !== '.'; dir = dirname(dir)) dirs.add(dir);
  }
  for (const dir of [...dirs].sort((a, b) => a.length - b.length)) await run('mmd', ['-i', espPath, `::${dir}`], { env });
  for (const file of files) await run('mcopy', ['-i', espPath, file.hostPath, `::${file.path}`], { env });
}

/**
 * Writes a GPT disk image at `diskPath`: a copy of the ESP image, then (if asked) a second
 * partition named `data.label` with an empty ext4 file system made in place. The file is
 * sparse where the partitions are empty (all-zero chunks are not written).
 */
export async function makeGptDisk(diskPath: string, espPath: string, espBytes: number, seed: string, data?: { label: string; sizeMiB: number }): Promise<void> {
  const espSectors = espBytes / SECTOR;
  const dataBytes = (data?.sizeMiB ?? 0) * MiB;
  const total = FIRST_LBA * SECTOR + espBytes + dataBytes + MiB;
  await rm(diskPath, { force: true });
  await (await open(diskPath, 'w')).close();
  await truncate(diskPath, total);
  await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', diskPath], { input: gptScript(espSectors, seed, data ? { sectors: dataBytes / SECTOR, name: data.label } : undefined) });
  await copyInto(diskPath, espPath, espBytes, FIRST_LBA * SECTOR);
  if (data) await makeExt4(diskPath, data.sizeMiB, data.label, seed, FIRST_LBA * SECTOR + espBytes);
}

async function copyInto(diskPath: string, fromPath: string, bytes: number, offset: number): Promise<void> {
  const out = await open(diskPath, 'r+');
  const input = await open(fromPath, 'r');
  try {
    const chunk = Buffer.alloc(MiB);
    const zeros = Buffer.alloc(MiB);
    for (let at = 0; at < bytes; at += chunk.length) {
      const { bytesRead } = await input.read(chunk, 0, Math.min(chunk.length, bytes - at), at);
      const part = chunk.subarray(0, bytesRead);
      if (!part.equals(zeros.subarray(0, bytesRead))) await out.write(part, 0, bytesRead, offset + at);
    }
  } finally {
    await out.close();
    await input.close();
  }
}

/** Builds disk.raw in `dir` from a UKI: ESP with \EFI\BOOT\BOOTX64.EFI, and the empty data partition if asked. */
export async function buildEspDisk(dir: string, ukiPath: string, ukiBytes: number, seed: string, data?: { label: string; sizeMiB: number }): Promise<string> {
  const espPath = join(dir, '.esp.img');
  const diskPath = join(dir, 'disk.raw');
  const espBytes = espSizeBytes(ukiBytes);
  try {
    await makeEsp(espPath, [{ path: '/EFI/BOOT/BOOTX64.EFI', hostPath: ukiPath }], espBytes, seed);
    await makeGptDisk(diskPath, espPath, espBytes, seed, data);
  } finally {
    await rm(espPath, { force: true });
  }
  return diskPath;
}
