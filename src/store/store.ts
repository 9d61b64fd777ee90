import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { canonicalJson, publishDirectory } from '../util/fs.js';
import { withStoreLock } from './lock.js';

/**
 * The store: built package trees, content-addressed by their build key (a hash of everything
 * that shapes the build), shared by every project on the machine under kiln's cache:
 *
 *   <cache>/store/<key>-<name>-<version>/{meta.json, tree/}   complete entries, never modified
 *   <cache>/store/.<entry>.tmp-XXXXXX/                         an entry being filled (publishDirectory)
 *   <cache>/store/.build/<name>-<version>/                      a build's work tree (fixed path: reproducible output)
 *   <cache>/store/.locks/<key>.lock, build-<name>-<version>.lock  "pid start" of the builder of that key / work tree
 *   <cache>/store/roots/<sha256 of project dir>.json           gc roots (projects that built here)
 *   <cache>/store/logs/                                         logs of failed builds
 *
 * An entry appears only by rename(2) of a complete temporary directory, so kill -9 at any
 * moment leaves either no entry or a complete one, plus temporary leftovers that the next
 * builder of the key (or `kiln gc`) removes.
 */

export interface StoreMeta {
  key: string;
  name: string;
  version: string;
  kind: 'package' | 'project';
  license: string;
  /** sha256 of the recipe (or kiln.toml) the entry was built from; gc matches it against kiln.lock. */
  recipeSha256: string;
  tuple: string;
  /** sha256 of each source, in recipe order. */
  sources: string[];
  /** Keys of the store entries that were in the build's sysroot. */
  dependencies: string[];
  /** hashTree of tree/ after normalisation. */
  treeSha256: string;
  files: number;
  /** How long the build took (informational; not part of any key). */
  buildSeconds: number;
}

export interface StoreEntry {
  key: string;
  dir: string;
  /** The install tree (what `make install DESTDIR=` produced), normalised. */
  tree: string;
  meta: StoreMeta;
}

export function storeDir(ctx: Context): string {
  return join(ctx.paths.cache, 'store');
}

export function entryName(key: string, name: string, version: string): string {
  return `${key}-${name}-${version}`;
}

export function lockPath(ctx: Context, key: string): string {
  return join(storeDir(ctx), '.locks', `${key}.lock`);
}

/**
 * Where a build of NAME VERSION runs. Named by package, not by key, so the paths a build system
 * writes into its outputs (SQLite's shell embeds its source path) are the same for every key and,
 * with the default cache location, on every machine. Builds of one name and version (different
 * keys) therefore take turns: see withWorkDir.
 */
export function workDir(ctx: Context, name: string, version: string): string {
  return join(storeDir(ctx), '.build', `${name}-${version}`);
}

export function workLockPath(ctx: Context, name: string, version: string): string {
  return join(storeDir(ctx), '.locks', `build-${name}-${version}.lock`);
}

/** Runs `body` with the package's work directory to itself (created empty, removed afterwards). */
export async function withWorkDir<T>(ctx: Context, name: string, version: string, body: (work: string) => Promise<T>): Promise<T> {
  return withStoreLock(ctx, workLockPath(ctx, name, version), `${name} ${version} (work tree)`, async () => {
    const work = workDir(ctx, name, version);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    try {
      return await body(work);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}

export async function readEntry(dir: string): Promise<StoreEntry | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as StoreMeta;
    return { key: meta.key, dir, tree: join(dir, 'tree'), meta };
  } catch {
    return undefined;
  }
}

/** Complete entries only: names starting with '.' are temporaries or bookkeeping. */
export async function listEntries(ctx: Context): Promise<StoreEntry[]> {
  const names = await readdir(storeDir(ctx)).catch(() => [] as string[]);
  const entries: StoreEntry[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.') || !/^[0-9a-f]{64}-/.test(name)) continue;
    const entry = await readEntry(join(storeDir(ctx), name));
    if (entry) entries.push(entry);
  }
  return entries;
}

export async function findEntry(ctx: Context, key: string): Promise<StoreEntry | undefined> {
  const names = await readdir(storeDir(ctx)).catch(() => [] as string[]);
  const name = names.find((n) => n.startsWith(`${key}-`));
  return name ? readEntry(join(storeDir(ctx), name)) : undefined;
}

export interface EntryRequest {
  key: string;
  name: string;
  version: string;
}

/**
 * Returns the entry for `key`, building it with `produce` if it is not there yet. `produce`
 * fills `tree` (an empty directory that does not exist yet: create it) and returns the meta
 * data. Builders of one key are serialised by the key's lock: the second one waits and then
 * finds the entry complete. A failing `produce` leaves the store as it was.
 */
export async function ensureEntry(
  ctx: Context,
  request: EntryRequest,
  produce: (tree: string) => Promise<Omit<StoreMeta, 'key' | 'name' | 'version'>>,
): Promise<{ entry: StoreEntry; built: boolean }> {
  const existing = await findEntry(ctx, request.key);
  ctx.reporter.emit({ type: 'cache', what: `store ${request.name} ${request.version}`, hit: existing !== undefined, key: request.key.slice(0, 16) });
  if (existing) return { entry: existing, built: false };
  return withStoreLock(ctx, lockPath(ctx, request.key), `${request.name} ${request.version}`, async () => {
    const raced = await findEntry(ctx, request.key);
    if (raced) return { entry: raced, built: false };
    const name = entryName(request.key, request.name, request.version);
    await removeLeftovers(ctx, name);
    const final = join(storeDir(ctx), name);
    await publishDirectory(final, async (tmp) => {
      const meta = await produce(join(tmp, 'tree'));
      await writeFile(join(tmp, 'meta.json'), canonicalJson({ ...meta, key: request.key, name: request.name, version: request.version }));
      await chmod(tmp, 0o755); // mkdtemp made it private; entries are shared
    });
    const entry = await readEntry(final);
    if (!entry) throw new Error(`store entry ${final} vanished right after it was published`);
    return { entry, built: true };
  });
}

/** Under the key's lock, anything a killed builder of the same entry left is garbage. */
async function removeLeftovers(ctx: Context, name: string): Promise<void> {
  const names = await readdir(storeDir(ctx)).catch(() => [] as string[]);
  for (const leftover of names.filter((n) => n.startsWith(`.${name}.tmp-`))) {
    await rm(join(storeDir(ctx), leftover), { recursive: true, force: true });
  }
}
