import { isAlive, processStart, selfRef, type ProcessRef } from './proc.js';

/**
 * Temporary files and directories in kiln's cache are named after the process that made them,
 * so that `kiln gc` can tell a download or an unpacking that a `kill -9` cut short (its owner
 * is gone) from one that is running right now (its owner lives), instead of guessing by age.
 *
 *   ownedTempPrefix('.download-')  ->  .download-p<pid>.<start>-     (mkdtemp adds six characters)
 *
 * The start time (clock ticks since boot, /proc/PID/stat) goes with the pid, as in the lock
 * files, so a pid reused by another process is not taken for the owner.
 */
export function ownedTempPrefix(prefix: string, owner: ProcessRef = selfRef()): string {
  return `${prefix}p${owner.pid}.${owner.start}-`;
}

/** The kinds of temporary names kiln writes into its cache, and where the owner is in each. */
const OWNED = /(?:^\.download-|^\.npm-|\.tmp-)p(\d+)\.(\d+)-[^/]*$/;
/** Older names with only a pid: `.download-<pid>-<ms>`, `x.tmp-<pid>-<n>`, `.x.new-<pid>`, `.x.old-<pid>`, `x.partial-<pid>`. */
const PID_ONLY = [/^\.download-(\d+)-\d{13}$/, /\.tmp-(\d+)-[0-9a-z]+$/, /\.(?:new|old|partial)-(\d+)$/];
/** Other names of the same kinds (mkdtemp's six random characters, older kilns): no owner, so only age can tell. */
const UNOWNED = /^\.download-|^\.npm-|\.tmp-/;

export type TempOwner = { kind: 'owned'; owner: ProcessRef } | { kind: 'pid'; pid: number } | { kind: 'unowned' };

/** Whether `name` is one of kiln's temporary names, and what it says about its maker. */
export function temporaryOwner(name: string): TempOwner | undefined {
  const owned = name.match(OWNED);
  if (owned) return { kind: 'owned', owner: { pid: Number(owned[1]), start: Number(owned[2]) } };
  for (const pattern of PID_ONLY) {
    const match = name.match(pattern);
    if (match) return { kind: 'pid', pid: Number(match[1]) };
  }
  return UNOWNED.test(name) ? { kind: 'unowned' } : undefined;
}

/** true: the maker is running; false: it is gone; undefined: the name does not say who made it. */
export function ownerAlive(owner: TempOwner): boolean | undefined {
  if (owner.kind === 'owned') return isAlive(owner.owner);
  if (owner.kind === 'pid') return processStart(owner.pid) !== undefined; // a reused pid errs on the side of keeping
  return undefined;
}
