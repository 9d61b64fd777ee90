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

/** A GUID derived from content, so the same image always gets the same disk and partition ids. */
export function stableGuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  h[6] = (h[6]! & 0x0f) | 0x40; // version 4 layout
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`.toUpperCase();
}

/** The sfdisk script for a disk with one ESP of `espSectors` sectors. Pure. */
export function gptScript(espSectors: number, seed: string): string {
  return [
    'label: gpt',
    `label-id: ${stableGuid(`${seed}/disk`)}`,
    'unit: sectors',
    `start=${FIRST_LBA}, size=${espSectors}, type=${ESP_TYPE}, uuid=${stableGuid(`${seed}/esp`)}, name="EFI system partition"`,
    '',
  ].join('\n');
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

/** Writes a GPT disk image at `diskPath` whose only partition is a copy of the ESP image. */
export async function makeGptDisk(diskPath: string, espPath: string, espBytes: number, seed: string): Promise<void> {
  const espSectors = espBytes / SECTOR;
  const total = FIRST_LBA * SECTOR + espBytes + MiB;
  await rm(diskPath, { force: true });
  await (await open(diskPath, 'w')).close();
  await truncate(diskPath, total);
  await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', diskPath], { input: gptScript(espSectors, seed) });
  const out = await open(diskPath, 'r+');
  const input = await open(espPath, 'r');
  try {
    const chunk = Buffer.alloc(4 * MiB);
    for (let at = 0; at < espBytes; at += chunk.length) {
      const { bytesRead } = await input.read(chunk, 0, Math.min(chunk.length, espBytes - at), at);
      await out.write(chunk, 0, bytesRead, FIRST_LBA * SECTOR + at);
    }
  } finally {
    await out.close();
    await input.close();
  }
}

/** Builds disk.raw in `dir` from a UKI: ESP with \EFI\BOOT\BOOTX64.EFI. */
export async function buildEspDisk(dir: string, ukiPath: string, ukiBytes: number, seed: string): Promise<string> {
  const espPath = join(dir, '.esp.img');
  const diskPath = join(dir, 'disk.raw');
  const espBytes = espSizeBytes(ukiBytes);
  try {
    await makeEsp(espPath, [{ path: '/EFI/BOOT/BOOTX64.EFI', hostPath: ukiPath }], espBytes, seed);
    await makeGptDisk(diskPath, espPath, espBytes, seed);
  } finally {
    await rm(espPath, { force: true });
  }
  return diskPath;
}
