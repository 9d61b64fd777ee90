import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isAlive, selfRef, type ProcessRef } from './proc.js';

/**
 * A lock file created with O_EXCL that holds "pid start-time" of its owner (the pair, because
 * a pid alone can be reused). A lock whose owner is gone (kiln killed mid-command) is dead and
 * is taken over by the next taker: it is renamed aside first, so two takers breaking the same
 * dead lock at once cannot both win. Instances and store entries both lock this way.
 */

export type LockState = { state: 'free' } | { state: 'held'; owner: ProcessRef } | { state: 'dead'; owner?: ProcessRef };

/** A lock file created but not yet written is a live writer's for this long at most. */
const UNWRITTEN_GRACE_MS = 5000;

/** What a lock file says about its owner right now. */
export async function lockState(path: string): Promise<LockState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { state: 'free' };
  }
  const match = text.match(/^(\d+) (\d+)\n$/);
  if (!match) return (await ageMs(path)) > UNWRITTEN_GRACE_MS ? { state: 'dead' } : { state: 'held', owner: { pid: 0, start: 0 } };
  const owner = { pid: Number(match[1]), start: Number(match[2]) };
  return isAlive(owner) ? { state: 'held', owner } : { state: 'dead', owner };
}

async function ageMs(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  return info ? Date.now() - info.mtimeMs : 0;
}

export interface PidLockOptions {
  timeoutMs: number;
  /** The error to throw when the lock is still held at the deadline. */
  busy: (owner: ProcessRef) => Error;
  /** Called once, the first time the taker has to wait. */
  onWait?: (owner: ProcessRef) => void;
  signal?: AbortSignal;
  /** Longest pause between two tries. */
  maxDelayMs?: number;
}

export async function withPidLock<T>(path: string, options: PidLockOptions, body: () => Promise<T>): Promise<T> {
  await acquire(path, options);
  try {
    return await body();
  } finally {
    // Only our own lock: if ours was ever taken as dead, the file now belongs to someone else.
    const me = selfRef();
    if ((await readFile(path, 'utf8').catch(() => '')) === `${me.pid} ${me.start}\n`) await unlink(path).catch(() => {});
  }
}

async function acquire(path: string, options: PidLockOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const me = selfRef();
  const deadline = Date.now() + options.timeoutMs;
  let told = false;
  for (let delay = 20; ; delay = Math.min(delay * 2, options.maxDelayMs ?? 250)) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(`${me.pid} ${me.start}\n`);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const state = await lockState(path);
    if (state.state === 'dead') await breakDead(path);
    else if (state.state === 'held') {
      if (Date.now() > deadline) throw options.busy(state.owner);
      if (!told) {
        options.onWait?.(state.owner);
        told = true;
      }
      options.signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Moves a dead lock aside before deleting it; if what was moved turns out to be a fresh live
 * lock (taken between the check and the rename), it is put back (link never replaces a file).
 */
export async function breakDead(path: string): Promise<boolean> {
  const aside = `${path}.dead-${process.pid}-${Date.now()}`;
  try {
    await rename(path, aside);
  } catch {
    return false; // someone else broke it first
  }
  if ((await lockState(aside)).state === 'held') {
    await link(aside, path).catch(() => {});
    await unlink(aside).catch(() => {});
    return false;
  }
  await unlink(aside).catch(() => {});
  return true;
}
