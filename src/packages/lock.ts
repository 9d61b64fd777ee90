import { readFile, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes, isKilnError } from '../errors.js';
import { canonicalJson, sha256File, writeFileAtomically } from '../util/fs.js';
import { resolveDebianClosure, type DebianLock } from '../debian/index.js';
import { loadProject, type LoadedProject } from './manifest.js';
import type { LoadedRecipe, RecipeSource } from './recipe.js';
import { resolveDependencies, type ResolvedPackage } from './resolve/index.js';
import { HttpSource, projectSources, SourceSet, type PackageSource } from './sources/index.js';
import type { Reporter } from '../events.js';

/**
 * kiln.lock: the exact outcome of resolving kiln.toml — one version of every package, where it
 * came from, the sha256 of its recipe and of each of its sources, and for Debian packages the
 * exact closure apt chose. Canonical JSON (sorted keys, packages sorted by name), written
 * atomically, so the same inputs give the same bytes and a diff shows only real changes.
 */

export const LOCK_FILE = 'kiln.lock';

export interface LockedSource {
  kind: 'url' | 'path' | 'npm';
  /** The URL, the path as the recipe writes it (relative to the recipe), or NAME@VERSION. */
  location: string;
  /** Absent only for directory sources (their content is not hashed). */
  sha256?: string;
}

export interface LockedPackage {
  name: string;
  version: string;
  /** 'catalogue', an index path as written in kiln.toml, or an index URL. */
  source: string;
  recipeSha256: string;
  license: string;
  sources: LockedSource[];
  /** Names of the locked packages it needs at run time / only to build. */
  dependencies: string[];
  buildDependencies: string[];
  /** Not needed at run time by the project (only to build something). */
  buildOnly: boolean;
  /** The recipe's [[data]] files with their sha256 (absent for directories). */
  data?: { path: string; sha256?: string }[];
  debian?: DebianLock;
}

export interface Lockfile {
  version: 1;
  root: { name: string; version: string; dependencies: Record<string, string>; buildDependencies: Record<string, string> };
  packages: LockedPackage[];
}

const range = z.record(z.string(), z.string());
const LockfileSchema = z.object({
  version: z.literal(1),
  root: z.object({ name: z.string(), version: z.string(), dependencies: range, buildDependencies: range }),
  packages: z.array(
    z.object({
      name: z.string(),
      version: z.string(),
      source: z.string(),
      recipeSha256: z.string().regex(/^[0-9a-f]{64}$/),
      license: z.string(),
      sources: z.array(z.object({ kind: z.enum(['url', 'path', 'npm']), location: z.string(), sha256: z.string().optional() })),
      dependencies: z.array(z.string()),
      buildDependencies: z.array(z.string()),
      buildOnly: z.boolean(),
      data: z.array(z.object({ path: z.string(), sha256: z.string().optional() })).optional(),
      debian: z.any().optional(),
    }),
  ),
});

export interface LockOptions {
  /** Fail with KILN_LOCK_DRIFT instead of changing kiln.lock. */
  frozen?: boolean;
  /** Packages to move to their newest allowed version (the rest stay as locked where possible). */
  update?: string[];
}

export async function readLock(dir: string): Promise<Lockfile | undefined> {
  const file = join(resolvePath(dir), LOCK_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KilnError(ErrorCodes.LOCK_INVALID, `cannot read ${file}`, { cause: error });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new KilnError(ErrorCodes.LOCK_INVALID, `${file} is not JSON`, { cause: error, hint: 'delete it and run `kiln lock`' });
  }
  const parsed = LockfileSchema.safeParse(data);
  if (!parsed.success) {
    throw new KilnError(ErrorCodes.LOCK_INVALID, `${file} is not a valid kiln.lock`, {
      details: parsed.error.issues.slice(0, 20).map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`),
      hint: 'delete it and run `kiln lock`',
    });
  }
  return parsed.data as Lockfile;
}

function sourcesOf(ctx: Context, project: LoadedProject): SourceSet {
  return new SourceSet(projectSources(ctx, project.dir, project.manifest.indexes));
}

/** Everything that makes `lock` no longer an answer to kiln.toml and the current recipes. */
export async function lockDrift(set: SourceSet, project: LoadedProject, lock: Lockfile, reporter?: Reporter): Promise<string[]> {
  const drifts: string[] = [];
  const m = project.manifest;
  if (lock.root.name !== m.package.name || lock.root.version !== m.package.version) {
    drifts.push(`project is now ${m.package.name} ${m.package.version} (locked as ${lock.root.name} ${lock.root.version})`);
  }
  const compare = (kind: string, now: Record<string, string>, locked: Record<string, string>): void => {
    for (const name of Object.keys(now).sort()) {
      if (!(name in locked)) drifts.push(`new ${kind} ${name} ${now[name]}`);
      else if (locked[name] !== now[name]) drifts.push(`${kind} ${name}: range changed from ${locked[name]} to ${now[name]}`);
    }
    for (const name of Object.keys(locked).sort()) if (!(name in now)) drifts.push(`removed ${kind} ${name}`);
  };
  compare('dependency', m.dependencies, lock.root.dependencies);
  compare('build dependency', m['build-dependencies'], lock.root.buildDependencies);
  for (const locked of lock.packages) {
    const source = set.sources.find((s) => s.id === locked.source);
    if (!source) {
      drifts.push(`${locked.name} ${locked.version}: its source ${locked.source} is no longer listed in kiln.toml`);
      continue;
    }
    try {
      const loaded = await source.recipe(locked.name, locked.version);
      if (loaded.sha256 !== locked.recipeSha256) drifts.push(`${locked.name} ${locked.version}: recipe changed (sha256 ${locked.recipeSha256.slice(0, 12)} -> ${loaded.sha256.slice(0, 12)})`);
      else if (locked.data && canonicalJson(await hashData(loaded)) !== canonicalJson(locked.data)) drifts.push(`${locked.name} ${locked.version}: a data file beside the recipe changed`);
    } catch (error) {
      if (!isKilnError(error)) throw error;
      // An HTTP index that cannot be reached is not drift when the locked recipe is in the cache.
      if (source instanceof HttpSource && error.code === ErrorCodes.INDEX_UNREACHABLE && (await source.cachedRecipe(locked.name, locked.version, locked.recipeSha256))) {
        reporter?.emit({ type: 'warning', code: ErrorCodes.INDEX_UNREACHABLE, message: `${error.message}; using the cached recipe of ${locked.name} ${locked.version} as locked`, hint: 'changes on that index are not seen until it can be reached' });
        continue;
      }
      drifts.push(`${locked.name} ${locked.version}: no longer available from ${locked.source} (${error.message})`);
    }
  }
  return drifts;
}

/**
 * Makes kiln.lock answer kiln.toml. A lock that still does is returned unchanged (and not
 * rewritten); otherwise the project is resolved again, keeping locked versions wherever they
 * are still allowed (except the packages named in `update`). With `frozen`, any drift is an
 * error (KILN_LOCK_DRIFT, one detail per drift) and nothing is written.
 */
export async function lockProject(ctx: Context, dir: string, options: LockOptions = {}): Promise<Lockfile> {
  const project = await loadProject(dir);
  const set = sourcesOf(ctx, project);
  const existing = await readLock(project.dir);
  const update = options.update ?? [];
  for (const name of update) {
    if (!existing?.packages.some((p) => p.name === name)) {
      throw new KilnError(ErrorCodes.PACKAGE_UNKNOWN, `${name} is not in kiln.lock`, { hint: 'see `kiln tree` for the locked packages' });
    }
  }
  const drifts = existing ? await lockDrift(set, project, existing, ctx.reporter) : ['there is no kiln.lock yet'];
  if (existing && drifts.length === 0 && update.length === 0) {
    ctx.reporter.emit({ type: 'info', message: `${LOCK_FILE} is up to date (${plural(existing.packages.length, 'package')})` });
    return existing;
  }
  if (options.frozen) {
    throw new KilnError(ErrorCodes.LOCK_DRIFT, `${LOCK_FILE} does not match kiln.toml${update.length > 0 ? ' (and --update asks for changes)' : ''}`, {
      details: update.length > 0 ? [...drifts, ...update.map((n) => `--update ${n}`)] : drifts,
      hint: 'run `kiln lock` without --frozen to update kiln.lock, and commit it',
    });
  }
  const m = project.manifest;
  const prefer = new Map((existing?.packages ?? []).filter((p) => !update.includes(p.name)).map((p) => [p.name, p.version]));
  ctx.reporter.emit({ type: 'step', step: 'resolve', message: `resolving the dependencies of ${m.package.name}` });
  const resolution = await resolveDependencies(
    set,
    { name: m.package.name, version: m.package.version, dependencies: m.dependencies, buildDependencies: m['build-dependencies'] },
    { prefer },
  );
  const packages: LockedPackage[] = [];
  for (const resolved of resolution.packages) {
    const source = await set.sourceOf(resolved.name, resolved.version);
    const loaded = await source.recipe(resolved.name, resolved.version);
    // A package named in --update also gets its Debian closure asked of apt again.
    const previous = update.includes(resolved.name) ? undefined : existing?.packages.find((p) => p.name === resolved.name);
    packages.push(await lockPackage(ctx, resolved, source, loaded, previous));
  }
  const lock: Lockfile = {
    version: 1,
    root: { name: m.package.name, version: m.package.version, dependencies: m.dependencies, buildDependencies: m['build-dependencies'] },
    packages,
  };
  await writeFileAtomically(join(project.dir, LOCK_FILE), canonicalJson(lock));
  for (const change of describeChanges(existing, lock)) ctx.reporter.emit({ type: 'info', message: change });
  ctx.reporter.emit({ type: 'step', step: 'lock', message: `wrote ${LOCK_FILE} (${plural(packages.length, 'package')})` });
  return lock;
}

async function lockPackage(ctx: Context, resolved: ResolvedPackage, source: PackageSource, loaded: LoadedRecipe, previous: LockedPackage | undefined): Promise<LockedPackage> {
  const recipe = loaded.recipe;
  const locked: LockedPackage = {
    name: resolved.name,
    version: resolved.version,
    source: source.id,
    recipeSha256: loaded.sha256,
    license: recipe.package.license,
    sources: await Promise.all(recipe.sources.map((s) => lockSource(loaded, s))),
    dependencies: Object.keys(resolved.dependencies).sort(),
    buildDependencies: Object.keys(resolved.buildDependencies).sort(),
    buildOnly: resolved.buildOnly,
  };
  if (recipe.data.length > 0) locked.data = await hashData(loaded);
  if (recipe.debian) {
    const same = previous && previous.version === locked.version && previous.recipeSha256 === locked.recipeSha256 && previous.debian;
    locked.debian = same
      ? previous.debian
      : await resolveDebianClosure(ctx, {
          package: recipe.debian.package,
          ...(recipe.debian.version === undefined ? {} : { version: recipe.debian.version }),
          ...(recipe.debian.packages.length > 0 ? { extraPackages: recipe.debian.packages } : {}),
        });
  }
  return locked;
}

async function lockSource(loaded: LoadedRecipe, source: RecipeSource): Promise<LockedSource> {
  if (source.url !== undefined) return { kind: 'url', location: source.url, sha256: source.sha256! };
  if (source.npm !== undefined) return { kind: 'npm', location: source.member ? `${source.npm}:${source.member}` : source.npm, sha256: source.sha256! };
  const location = source.path!;
  if (source.sha256 !== undefined) return { kind: 'path', location, sha256: source.sha256 };
  // A local file the recipe did not hash: hash it now so the lock still pins its content.
  const file = resolvePath(loaded.dir, location);
  const isFile = await stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
  return isFile ? { kind: 'path', location, sha256: await sha256File(file) } : { kind: 'path', location };
}

/** sha256 of each [[data]] file beside the recipe (directories are recorded by path only). */
async function hashData(loaded: LoadedRecipe): Promise<{ path: string; sha256?: string }[]> {
  return Promise.all(
    loaded.recipe.data.map(async ({ path }) => {
      const file = resolvePath(loaded.dir, path);
      const isFile = await stat(file).then(
        (s) => s.isFile(),
        () => false,
      );
      return isFile ? { path, sha256: await sha256File(file) } : { path };
    }),
  );
}

function describeChanges(before: Lockfile | undefined, after: Lockfile): string[] {
  const old = new Map((before?.packages ?? []).map((p) => [p.name, p.version]));
  const out: string[] = [];
  for (const p of after.packages) {
    const was = old.get(p.name);
    if (was === undefined) out.push(`+ ${p.name} ${p.version}${p.buildOnly ? ' (build)' : ''}`);
    else if (was !== p.version) out.push(`~ ${p.name} ${was} -> ${p.version}`);
    old.delete(p.name);
  }
  for (const [name, version] of old) out.push(`- ${name} ${version}`);
  return out;
}

/**
 * The recipe of a locked package, fetched through the source kiln.lock names and checked
 * against its recorded sha256 (KILN_LOCK_DRIFT if it changed: run `kiln lock`).
 */
export async function recipeForLocked(ctx: Context, dir: string, locked: LockedPackage): Promise<LoadedRecipe> {
  const project = await loadProject(dir);
  const source = sourcesOf(ctx, project).sources.find((s) => s.id === locked.source);
  if (!source) {
    throw new KilnError(ErrorCodes.LOCK_DRIFT, `kiln.lock takes ${locked.name} from ${locked.source}, which kiln.toml no longer lists`, { hint: 'run `kiln lock`' });
  }
  // A verified copy in the cache needs no network; anything else is fetched and checked.
  const cached = source instanceof HttpSource ? await source.cachedRecipe(locked.name, locked.version, locked.recipeSha256) : undefined;
  const loaded = cached ?? (await source.recipe(locked.name, locked.version));
  if (loaded.sha256 !== locked.recipeSha256) {
    throw new KilnError(ErrorCodes.LOCK_DRIFT, `the recipe of ${locked.name} ${locked.version} changed since kiln.lock was written`, {
      details: [`locked sha256 ${locked.recipeSha256}`, `current sha256 ${loaded.sha256} (${loaded.file})`],
      hint: 'run `kiln lock` to accept the new recipe',
    });
  }
  return loaded;
}

/** Paths from the root to `name` through the locked graph (runtime and build edges). */
export function lockPaths(lock: Lockfile, name: string): { name: string; build: boolean }[][] {
  const byName = new Map(lock.packages.map((p) => [p.name, p]));
  const out: { name: string; build: boolean }[][] = [];
  const walk = (at: string, deps: string[], build: string[], path: { name: string; build: boolean }[]): void => {
    if (out.length >= 1000) return;
    for (const [next, isBuild] of [...deps.map((d) => [d, false] as const), ...build.map((d) => [d, true] as const)]) {
      if (path.some((p) => p.name === next) || next === at) continue;
      const step = [...path, { name: next, build: isBuild }];
      if (next === name) out.push(step);
      else {
        const p = byName.get(next);
        if (p) walk(next, p.dependencies, p.buildDependencies, step);
      }
    }
  };
  walk(lock.root.name, Object.keys(lock.root.dependencies).sort(), Object.keys(lock.root.buildDependencies).sort(), [{ name: lock.root.name, build: false }]);
  return out;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
