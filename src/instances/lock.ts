import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KilnError, ErrorCodes } from '../errors.js';
import { isAlive, selfRef, type ProcessRef } from './proc.js';

/**
 * A lock file made with O_EXCL that holds its owner's pid and start time. A lock whose owner
 * is gone (kiln killed mid-command) is stale and is broken by the next command: it is renamed
 * aside first, so two commands breaking the same stale lock at once cannot both win.
 */
export async function withLock<T>(path: string, what: string, body: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  await acquire(path, what, timeoutMs);
  try {
    return await body();
  } finally {
    await unlink(path).catch(() => {});
  }
}

async function acquire(path: string, what: string, timeoutMs: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const me = selfRef();
  const deadline = Date.now() + timeoutMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(`${me.pid} ${me.start}\n`);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(path);
    // An empty lock is being written right now, unless it is old: then its writer died.
    const stale = owner === undefined ? await olderThan(path, 5000) : owner !== 'gone' && !isAlive(owner);
    if (stale) await breakStale(path);
    else if (Date.now() > deadline) {
      throw new KilnError(ErrorCodes.INSTANCE_BUSY, `${what} is locked by another kiln command${owner !== 'gone' && owner ? ` (pid ${owner.pid})` : ''}`, {
        hint: `wait for it to finish; the lock is ${path}`,
      });
    } else await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** undefined: unreadable content (a writer that died between create and write: stale); 'gone': no file. */
async function readOwner(path: string): Promise<ProcessRef | undefined | 'gone'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return 'gone';
  }
  const match = text.match(/^(\d+) (\d+)\n$/);
  return match ? { pid: Number(match[1]), start: Number(match[2]) } : undefined;
}

async function olderThan(path: string, ms: number): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > ms;
}

async function breakStale(path: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${Date.now()}`;
  try {
    await rename(path, aside);
  } catch {
    return; // someone else broke it first
  }
  const owner = await readOwner(aside);
  if (owner !== 'gone' && (owner ? isAlive(owner) : !(await olderThan(aside, 5000)))) {
    // We moved a lock that a live command had just taken: put it back (link never replaces a file).
    await link(aside, path).catch(() => {});
  }
  await unlink(aside).catch(() => {});
}
