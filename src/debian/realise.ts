import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { ComponentInput } from '../image/components.js';
import { lastLines, run } from '../util/exec.js';
import { canonicalJson, publishDirectory, sha256, sha256File, writeFileAtomically } from '../util/fs.js';
import { readTextInRoot } from '../rootfs/sysroot.js';
import { parseAptStanzas } from '../components/apt.js';
import { assertSafe, debFields, listDeb, unpackDeb, type DebEntry } from './archive.js';
import { packageLicense } from './license.js';
import { parseProvides, parseRelations, versionSatisfies } from './relations.js';
import type { DebianLock, DebianLockEntry } from './types.js';
import { ownedTempPrefix } from '../util/temp-owner.js';

/**
 * Makes a DebianLock real: every .deb downloaded through the host's apt into the kiln cache
 * (content-addressed by sha256, each checked against the hash the lock took from apt's
 * index), listed and checked (archive.ts), unpacked into one staging root, and described as
 * one component per package (version and Source from its control data, license from its
 * copyright file). The root is cached by the closure's hashes and published atomically.
 *
 * Cache layout: <cache>/debian/debs/<sha256>.deb, <cache>/debian/roots/<key>/{root/, meta.json}.
 */

const FORMAT = 2;

export interface RealisedDebian {
  root: string;
  components: ComponentInput[];
}

interface Meta {
  format: number;
  components: ComponentInput[];
  /** Path inside the root (with leading /) -> package that ships it: which component a guest file belongs to. */
  owners: Record<string, string>;
}

export async function realiseDebian(ctx: Context, lock: DebianLock): Promise<RealisedDebian> {
  const meta = await realiseWithOwners(ctx, lock);
  return { root: meta.root, components: meta.components };
}

/** realiseDebian plus the path -> package map the bake uses to fill each component's files. */
export async function realiseWithOwners(ctx: Context, lock: DebianLock): Promise<RealisedDebian & { owners: Record<string, string> }> {
  const key = sha256(canonicalJson({ format: FORMAT, closure: lock.closure.map((e) => [e.package, e.version, e.architecture, e.sha256]) }));
  const dir = join(ctx.paths.cache, 'debian', 'roots', key);
  const cached = await readMeta(dir);
  if (cached) {
    ctx.reporter.emit({ type: 'cache', what: `debian root of ${lock.package}`, hit: true, key });
    return { root: join(dir, 'root'), components: cached.components, owners: cached.owners };
  }
  ctx.reporter.emit({ type: 'cache', what: `debian root of ${lock.package}`, hit: false, key });
  const debs = await obtainDebs(ctx, lock.closure);
  await publishDirectory(dir, async (tmp) => {
    // Every package is listed and checked before the first one is unpacked.
    const listings: { name: string; entries: DebEntry[] }[] = [];
    for (const entry of lock.closure) listings.push({ name: entry.package, entries: await listDeb(debs.get(entry.sha256)!) });
    assertSafe(listings);
    const root = join(tmp, 'root');
    await mkdir(root);
    ctx.reporter.emit({ type: 'step', step: 'debian', message: `unpacking ${lock.closure.length} packages` });
    for (const entry of lock.closure) await unpackDeb(debs.get(entry.sha256)!, root);
    const owners: Record<string, string> = {};
    for (const listing of listings) for (const e of listing.entries) if (e.type !== 'dir') owners[`/${e.path}`] = listing.name;
    const components = await describe(lock, root, debs);
    await writeFileAtomically(join(tmp, 'meta.json'), canonicalJson({ format: FORMAT, components, owners } satisfies Meta));
  });
  const meta = (await readMeta(dir))!;
  return { root: join(dir, 'root'), components: meta.components, owners: meta.owners };
}

async function readMeta(dir: string): Promise<Meta | undefined> {
  const meta = await readFile(join(dir, 'meta.json'), 'utf8').then((t) => JSON.parse(t) as Meta, () => undefined);
  return meta?.format === FORMAT ? meta : undefined;
}

/** The .deb of each entry, by sha256: from the cache, or downloaded with `apt-get download`. */
async function obtainDebs(ctx: Context, closure: DebianLockEntry[]): Promise<Map<string, string>> {
  const store = join(ctx.paths.cache, 'debian', 'debs');
  await mkdir(store, { recursive: true });
  const paths = new Map<string, string>();
  const missing: DebianLockEntry[] = [];
  for (const entry of closure) {
    const path = join(store, `${entry.sha256}.deb`);
    // Checked on every use: a damaged cache entry is dropped and downloaded again.
    const present = await stat(path).then((s) => s.isFile(), () => false);
    if (present && (await sha256File(path)) === entry.sha256) paths.set(entry.sha256, path);
    else {
      if (present) await rm(path, { force: true });
      missing.push(entry);
    }
  }
  if (missing.length === 0) return paths;
  const bytes = missing.reduce((n, e) => n + e.size, 0);
  ctx.reporter.emit({ type: 'download', what: `${missing.length} Debian packages (${missing.map((e) => e.package).join(', ')})`, bytes });
  const tmp = await mkdtemp(join(store, ownedTempPrefix('.download-')));
  try {
    // apt checks each file against the signed index itself; kiln checks again against the lock.
    const specs = missing.map((e) => `${e.package}${e.architecture === 'all' ? '' : `:${e.architecture}`}=${e.version}`);
    const result = await run('apt-get', ['download', '--', ...specs], { cwd: tmp, env: { ...ctx.env, LC_ALL: 'C' }, check: false, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    if (result.code !== 0) {
      throw new KilnError(ErrorCodes.DEBIAN_DOWNLOAD_FAILED, `apt-get could not download ${specs.length === 1 ? specs[0] : `${specs.length} packages`}`, {
        hint: 'run apt-get update (the archive may have dropped these versions; `kiln lock --update` then picks current ones) and check that the Debian archive is reachable',
        details: lastLines(result.stderr || result.stdout, 10),
      });
    }
    const got = new Map<string, string>();
    for (const name of await readdir(tmp)) if (name.endsWith('.deb')) got.set(await sha256File(join(tmp, name)), name);
    for (const entry of missing) {
      const name = got.get(entry.sha256);
      if (!name) {
        throw new KilnError(ErrorCodes.DEBIAN_HASH_MISMATCH, `the downloaded ${entry.package} ${entry.version} does not have the sha256 apt's index (and the lock) promised`, {
          hint: 'the archive or a proxy served other bytes; nothing was kept. Run apt-get update and try again',
          details: [`expected ${entry.sha256}`, `downloaded: ${[...got.values()].join(', ') || '(nothing)'}`],
        });
      }
      const path = join(store, `${entry.sha256}.deb`);
      await rename(join(tmp, name), path);
      paths.set(entry.sha256, path);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return paths;
}

async function describe(lock: DebianLock, root: string, debs: Map<string, string>): Promise<ComponentInput[]> {
  const controls = new Map<string, { depends: string; provides: string }>();
  for (const entry of lock.closure) {
    const fields = parseAptStanzas(await debFields(debs.get(entry.sha256)!, ['Pre-Depends', 'Depends', 'Provides']))[0] ?? {};
    controls.set(entry.package, { depends: [fields['Pre-Depends'], fields.Depends].filter(Boolean).join(', '), provides: fields.Provides ?? '' });
  }
  const components: ComponentInput[] = [];
  for (const entry of lock.closure) {
    // A package's dependsOn: the closure members that satisfy its Depends (dropped install-only ones are absent).
    const dependsOn = new Set<string>();
    for (const clause of parseRelations(controls.get(entry.package)?.depends)) {
      const by = lock.closure.find((other) =>
        clause.some(
          (a) =>
            (other.package === a.name && versionSatisfies(other.version, a.op, a.version)) ||
            parseProvides(controls.get(other.package)?.provides).some((p) => p.name === a.name),
        ),
      );
      if (by && by.package !== entry.package) dependsOn.add(`debian:${by.package}`);
    }
    components.push({
      id: `debian:${entry.package}`,
      kind: 'debian-package',
      name: entry.package,
      version: entry.version,
      license: packageLicense(entry.source.package, await readTextInRoot(root, `/usr/share/doc/${entry.package}/copyright`)),
      debian: { package: entry.package, version: entry.version, architecture: entry.architecture, source: entry.source },
      files: [],
      dependsOn: [...dependsOn].sort(),
      sha256: entry.sha256,
    });
  }
  return components;
}

