import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ownerAlive, temporaryOwner } from '../util/temp-owner.js';

/**
 * Leftovers of interrupted work anywhere in kiln's cache: half-downloaded packages
 * (`.download-*`), half-filled cache entries (`.NAME.tmp-*`), npm scratch directories and the
 * like, which a `kill -9` leaves behind. A temporary is garbage when the process named in it is
 * gone; one whose name names no process (made by an older kiln) only when nothing in it has
 * changed for STALE_UNOWNED_MS. A temporary whose maker runs is never touched.
 *
 * The walk is shallow (a few levels below the cache root) and does not enter complete entries
 * (directories named by a hash): temporaries are made beside the entries they become.
 */

/** An ownerless temporary untouched this long is a leftover (a live download keeps writing to it). */
export const STALE_UNOWNED_MS = 24 * 3600_000;
const MAX_DEPTH = 4; // e.g. <cache>/oci/blobs/sha256/<hex>.tmp-*
/** Complete, content-addressed entries (sha256 or a 16-digit key): nothing temporary inside. */
const ENTRY_NAME = /^(?:[0-9a-f]{64}|[0-9a-f]{16})(?:\.[a-z]+)?$/;

export interface StaleTemporary {
  path: string;
  why: string;
}

/**
 * The stale temporaries under `root` (not in `skip`, top-level names whose owners collect their
 * own leftovers, such as the store).
 */
export async function staleTemporaries(root: string, now: number, skip: ReadonlySet<string> = new Set()): Promise<StaleTemporary[]> {
  const found: StaleTemporary[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
      if (depth === 1 && skip.has(name)) continue;
      const path = join(dir, name);
      const owner = temporaryOwner(name);
      if (owner) {
        const alive = ownerAlive(owner);
        const pid = owner.kind === 'owned' ? owner.owner.pid : owner.kind === 'pid' ? owner.pid : undefined;
        if (alive === false) found.push({ path, why: `left by process ${pid}, which is gone (an interrupted download or unpacking)` });
        else if (alive === undefined && now - (await newestChange(path)) > STALE_UNOWNED_MS) found.push({ path, why: 'temporary left by an interrupted operation, untouched for a day' });
        continue;
      }
      if (depth >= MAX_DEPTH || ENTRY_NAME.test(name)) continue;
      const info = await lstat(path).catch(() => undefined);
      if (info?.isDirectory()) await walk(path, depth + 1);
    }
  };
  await walk(root, 1);
  return found;
}

/** The latest modification time of anything in the tree (0 if it vanished). */
async function newestChange(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 0;
  let newest = info.mtimeMs;
  if (info.isDirectory()) for (const name of await readdir(path).catch(() => [] as string[])) newest = Math.max(newest, await newestChange(join(path, name)));
  return newest;
}
