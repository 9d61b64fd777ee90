import { lstat, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { canonicalJson, exists, sha256, sha256File, writeFileAtomically } from '../util/fs.js';
import { breakDead, lockState } from './lock.js';
import { staleTemporaries } from './temporaries.js';
import { listEntries, lockPath, storeDir, type StoreMeta } from './store.js';

/**
 * Garbage collection. A project that builds registers itself as a root (roots/<sha256 of its
 * directory>.json: the directory and the store keys it uses). `kiln gc` keeps every entry a
 * live root uses (and what those entries were built against), and removes the rest, plus what
 * killed builders left: temporary entry directories, work trees and dead locks. Anything whose
 * key is locked by a live builder is left alone. It also prunes the source cache
 * (<cache>/sources/<sha256>: downloads and npm tarballs) and the Debian package cache
 * (<cache>/debian/debs/<sha256>.deb) of what no live root's kiln.lock and no kept entry names,
 * and the logs of failed builds once they are older than two weeks.
 *
 * Housekeeping of the rest of the cache: temporaries that interrupted work left anywhere in it
 * (temporaries.ts: only when the process that made them is gone), and what other layers say is
 * stale in their own caches (`pruners`: the dpkg owner index, old toolchain installs).
 */

/** Logs of failed builds are kept this long (days) by default. */
export const LOG_MAX_AGE_DAYS = 14;
/**
 * A cached source written this recently stays even when unpinned: a project building for the
 * first time may have downloaded it after this gc read the roots.
 */
const FRESH_SOURCE_MS = 3600_000;

export interface GcRoot {
  project: string;
  keys: string[];
}

export function rootsDir(ctx: Context): string {
  return join(storeDir(ctx), 'roots');
}

/** Records (replacing the previous record) which store keys the project in `projectDir` uses. */
export async function registerRoot(ctx: Context, projectDir: string, keys: string[]): Promise<string> {
  const file = join(rootsDir(ctx), `${sha256(projectDir)}.json`);
  await writeFileAtomically(file, canonicalJson({ project: projectDir, keys: [...new Set(keys)].sort() }));
  return file;
}

/** Does the project's kiln.lock (still) pin the package this entry was built from? */
export type LockReferences = (projectDir: string, meta: StoreMeta) => Promise<boolean>;

/** The sha256 of every source and .deb the project's kiln.lock pins (throws if the lock cannot be read). */
export type LockSources = (projectDir: string) => Promise<string[]>;

/** Another layer's cache housekeeping: what in its cache is stale, and why. */
export type CachePruner = (ctx: Context, now: number) => Promise<{ path: string; why: string }[]>;

export interface GcOptions {
  dryRun?: boolean;
  /** Default: the entry counts as referenced while the project's kiln.lock exists. */
  lockReferences?: LockReferences;
  /**
   * Enables pruning the source cache and the .deb cache: a cached source or .deb stays while a
   * live root's lock or a kept entry names it. Without it (or when some lock cannot be read)
   * neither is pruned.
   */
  lockSources?: LockSources;
  /** Housekeeping of other layers' caches, run after the store's own. */
  pruners?: CachePruner[];
  /** Failed builds' logs older than this many days are removed (default LOG_MAX_AGE_DAYS). */
  logMaxAgeDays?: number;
  /** The current time (tests). */
  now?: number;
}

export interface GcItem {
  path: string;
  bytes: number;
  why: string;
}

export interface GcReport {
  removed: GcItem[];
  /** The sum of the removed items' sizes (what a dry run would free). */
  freedBytes: number;
  keptEntries: number;
  dryRun: boolean;
}


async function sizeOf(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[])) total += await sizeOf(join(path, name));
  return total;
}

/** The project's own entry is referenced while kiln.toml is unchanged (its recipe sha256). */
async function projectEntryCurrent(projectDir: string, meta: StoreMeta): Promise<boolean> {
  const file = join(projectDir, 'kiln.toml');
  return (await exists(file)) && (await sha256File(file)) === meta.recipeSha256;
}

export async function collectGarbage(ctx: Context, options: GcOptions = {}): Promise<GcReport> {
  const dryRun = options.dryRun ?? false;
  const now = options.now ?? Date.now();
  const store = storeDir(ctx);
  const removed: GcItem[] = [];
  const remove = async (path: string, why: string): Promise<void> => {
    removed.push({ path, bytes: await sizeOf(path), why });
    if (dryRun) return;
    // Renamed first: a half-deleted entry must never look like a complete one.
    const aside = join(store, `.gc-${process.pid}-${removed.length}`);
    await rename(path, aside).then(
      () => rm(aside, { recursive: true, force: true }),
      () => rm(path, { recursive: true, force: true }),
    );
  };

  const entries = await listEntries(ctx);
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const live = new Set<string>();
  // Sources the live roots' locks pin; undefined once some lock cannot be read (then keep them all).
  let lockedSources: Set<string> | undefined = options.lockSources ? new Set<string>() : undefined;
  for (const name of (await readdir(rootsDir(ctx)).catch(() => [] as string[])).sort()) {
    const file = join(rootsDir(ctx), name);
    let root: GcRoot;
    try {
      root = JSON.parse(await readFile(file, 'utf8')) as GcRoot;
    } catch {
      await remove(file, 'unreadable gc root');
      continue;
    }
    if (!(await exists(join(root.project, 'kiln.lock')))) {
      await remove(file, `gc root of ${root.project}, whose kiln.lock is gone`);
      continue;
    }
    if (options.lockSources && lockedSources) {
      const pinned = await options.lockSources(root.project).catch(() => undefined);
      if (pinned) for (const hash of pinned) lockedSources.add(hash);
      else lockedSources = undefined;
    }
    // A root whose entries are absent or stale stays: its project may be building right now
    // (roots are registered before building), and a root costs nothing.
    for (const key of root.keys) {
      const entry = byKey.get(key);
      if (!entry) continue;
      const current =
        entry.meta.kind === 'project' ? await projectEntryCurrent(root.project, entry.meta) : options.lockReferences ? await options.lockReferences(root.project, entry.meta) : true;
      if (current) live.add(key);
    }
  }
  // What live entries were built against stays too (a rebuild check would need them).
  const pending = [...live];
  while (pending.length > 0) {
    for (const dep of byKey.get(pending.pop()!)?.meta.dependencies ?? []) {
      if (!live.has(dep)) {
        live.add(dep);
        pending.push(dep);
      }
    }
  }
  const held = async (key: string): Promise<boolean> => (await lockState(lockPath(ctx, key))).state === 'held';
  for (const entry of entries) {
    if (!live.has(entry.key) && !(await held(entry.key))) await remove(entry.dir, `${entry.meta.name} ${entry.meta.version}: no project uses it`);
  }
  for (const name of (await readdir(store).catch(() => [] as string[])).sort()) {
    const tmp = name.match(/^\.([0-9a-f]{64})-.*\.tmp-/);
    if (tmp && !(await held(tmp[1]!))) await remove(join(store, name), 'temporary directory of an interrupted build');
    if (name.startsWith('.gc-')) await remove(join(store, name), 'left by an interrupted gc');
  }
  for (const name of (await readdir(join(store, '.build')).catch(() => [] as string[])).sort()) {
    const busy = (await lockState(join(store, '.locks', `build-${name}.lock`))).state === 'held';
    if (!busy) await remove(join(store, '.build', name), 'work tree of an interrupted build');
  }
  for (const name of (await readdir(join(store, '.locks')).catch(() => [] as string[])).sort()) {
    const path = join(store, '.locks', name);
    if ((await lockState(path)).state !== 'dead') continue;
    removed.push({ path, bytes: 0, why: 'lock of a builder that is gone' });
    if (!dryRun) await breakDead(path);
  }
  if (lockedSources) {
    for (const entry of entries) if (live.has(entry.key)) for (const hash of entry.meta.sources) lockedSources.add(hash);
    await pruneSources(ctx, lockedSources, now, remove);
    await pruneDebs(ctx, lockedSources, now, remove);
  }
  // The store's own temporaries were judged above, by their keys' locks.
  for (const item of await staleTemporaries(ctx.paths.cache, now, new Set(['store']))) await remove(item.path, item.why);
  for (const prune of options.pruners ?? []) for (const item of await prune(ctx, now)) await remove(item.path, item.why);
  const maxAgeMs = (options.logMaxAgeDays ?? LOG_MAX_AGE_DAYS) * 86_400_000;
  for (const name of (await readdir(join(store, 'logs')).catch(() => [] as string[])).sort()) {
    const path = join(store, 'logs', name);
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile() && now - info.mtimeMs > maxAgeMs) await remove(path, `log of a failed build, older than ${options.logMaxAgeDays ?? LOG_MAX_AGE_DAYS} days`);
  }
  return { removed, freedBytes: removed.reduce((sum, item) => sum + item.bytes, 0), keptEntries: entries.filter((e) => live.has(e.key)).length, dryRun };
}

/**
 * The source cache holds files named by their sha256 (src/pkgbuild/fetch.ts; its temporaries are
 * judged by staleTemporaries). Same layout as sourcesCacheDir there; the store does not import
 * the build code.
 */
async function pruneSources(ctx: Context, keep: Set<string>, now: number, remove: (path: string, why: string) => Promise<void>): Promise<void> {
  await pruneByHash(join(ctx.paths.cache, 'sources'), /^([0-9a-f]{64})$/, keep, now, remove, "cached source that no project's kiln.lock pins");
}

/**
 * Debian packages downloaded for images and projects (src/debian/realise.ts:
 * <cache>/debian/debs/<sha256>.deb). Once unpacked, a closure's root is cached on its own, so a
 * .deb is needed again only to unpack that closure afresh: the ones a project's kiln.lock pins
 * stay (the archive drops superseded versions, so they may not be downloadable again).
 */
async function pruneDebs(ctx: Context, keep: Set<string>, now: number, remove: (path: string, why: string) => Promise<void>): Promise<void> {
  await pruneByHash(join(ctx.paths.cache, 'debian', 'debs'), /^([0-9a-f]{64})\.deb$/, keep, now, remove, "Debian package that no project's kiln.lock pins");
}

/** Files named by a sha256 that `keep` does not hold; one made within FRESH_SOURCE_MS stays (a build may be about to use it). */
async function pruneByHash(dir: string, name: RegExp, keep: Set<string>, now: number, remove: (path: string, why: string) => Promise<void>, why: string): Promise<void> {
  for (const file of (await readdir(dir).catch(() => [] as string[])).sort()) {
    const hash = file.match(name)?.[1];
    if (!hash || keep.has(hash)) continue;
    // ctime too: apt-get gives a .deb the archive's date, and renaming it into the cache is what is recent.
    const info = await lstat(join(dir, file)).catch(() => undefined);
    if (info && now - Math.max(info.mtimeMs, info.ctimeMs) > FRESH_SOURCE_MS) await remove(join(dir, file), why);
  }
}
