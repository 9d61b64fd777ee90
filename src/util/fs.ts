import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, mkdir, rename, rm, mkdtemp } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { ownedTempPrefix } from './temp-owner.js';

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes a file so that readers see either the old or the new content, never a part. */
export async function writeFileAtomically(path: string, data: string | Buffer, mode?: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, data, mode === undefined ? {} : { mode });
}

/** Canonical JSON: keys sorted at every level, two-space indent, trailing newline. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2) + '\n';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/**
 * Builds a directory under a temporary name beside `finalPath` and renames it into place only
 * when `fill` succeeds, so an interrupted run never leaves a partial directory at `finalPath`.
 * If `finalPath` already exists (another process won the race), the new copy is discarded.
 */
export async function publishDirectory(finalPath: string, fill: (tmpDir: string) => Promise<void>): Promise<'created' | 'existed'> {
  await mkdir(dirname(finalPath), { recursive: true });
  // Named after this process, so that `kiln gc` can tell a live fill from one a kill -9 cut short.
  const tmp = await mkdtemp(join(dirname(finalPath), ownedTempPrefix(`.${basename(finalPath)}.tmp-`)));
  try {
    await fill(tmp);
    try {
      await rename(tmp, finalPath);
      return 'created';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        await rm(tmp, { recursive: true, force: true });
        return 'existed';
      }
      throw error;
    }
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

/** Whether something is at `path` (any kind of file; a broken link or an unreadable parent counts as nothing). */
export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
