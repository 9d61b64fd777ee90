import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { realiseDebian } from '../debian/index.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { ComponentInput } from '../image/components.js';
import { loadProject, type LoadedProject } from '../packages/manifest.js';
import { lockProject, readLock, recipeForLocked, type LockedPackage, type Lockfile } from '../packages/lock.js';
import type { LoadedRecipe, Recipe } from '../packages/recipe.js';
import { registerRoot, type LockReferences, type LockSources } from '../store/gc.js';
import type { StoreEntry, StoreMeta } from '../store/store.js';
import { buildRecipe, keyFor } from './build.js';

/**
 * `kiln build`: make kiln.lock answer kiln.toml, build every locked package in dependency
 * order into the store (each with its dependencies in its sysroot), then the project itself
 * if it has build steps, and register the project as a gc root. Debian packages in the lock
 * are unpacked by src/debian (realiseDebian) instead of built.
 */

export interface BuiltPackage {
  locked: LockedPackage;
  loaded: LoadedRecipe;
  /** kiln packages: the store entry; Debian packages: none (see debian). */
  entry?: StoreEntry;
  debian?: { root: string; components: ComponentInput[] };
  built: boolean;
  seconds: number;
}

export interface ProjectBuild {
  project: LoadedProject;
  lock: Lockfile;
  /** In build order. */
  packages: BuiltPackage[];
  /** The project's own entry, when kiln.toml has [build] steps, and whether this run built it. */
  projectEntry?: StoreEntry;
  projectBuilt: boolean;
  projectRecipe: LoadedRecipe;
  gcRoot: string;
}

export interface BuildProjectOptions {
  frozen?: boolean;
}

/** Packages ordered so each comes after everything it needs (runtime and build edges). */
export function buildOrder(lock: Lockfile): LockedPackage[] {
  const byName = new Map(lock.packages.map((p) => [p.name, p]));
  const order: LockedPackage[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (pkg: LockedPackage, path: string[]): void => {
    const seen = state.get(pkg.name);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      throw new KilnError(ErrorCodes.DEPENDENCY_CYCLE, `kiln.lock has a dependency cycle: ${[...path, pkg.name].join(' -> ')}`, { hint: 'a package cannot need itself to build; fix the recipes and run `kiln lock`' });
    }
    state.set(pkg.name, 'visiting');
    for (const name of [...pkg.dependencies, ...pkg.buildDependencies].sort()) {
      const dep = byName.get(name);
      if (!dep) throw new KilnError(ErrorCodes.LOCK_INVALID, `kiln.lock: ${pkg.name} needs ${name}, which is not locked`, { hint: 'run `kiln lock`' });
      visit(dep, [...path, pkg.name]);
    }
    state.set(pkg.name, 'done');
    order.push(pkg);
  };
  for (const pkg of lock.packages) visit(pkg, []);
  return order;
}

/** Names reachable from `roots` over runtime edges. */
export function runtimeClosure(lock: Lockfile, roots: readonly string[]): string[] {
  const byName = new Map(lock.packages.map((p) => [p.name, p]));
  const seen = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    pending.push(...(byName.get(name)?.dependencies ?? []));
  }
  return [...seen].sort();
}

/** What a build's sysroot holds: its runtime and build dependencies, each with its runtime closure. */
function sysrootNames(lock: Lockfile, runtime: readonly string[], build: readonly string[]): string[] {
  return runtimeClosure(lock, [...runtime, ...build]);
}

/** The project as a recipe: without sources of its own, its source is its directory. */
export function projectRecipe(project: LoadedProject): LoadedRecipe {
  const recipe: Recipe = { ...project.manifest };
  if (recipe.sources.length === 0) recipe.sources = [{ path: '.' }];
  return { recipe, file: project.file, dir: project.dir, sha256: project.sha256 };
}

export async function buildProject(ctx: Context, dir: string, options: BuildProjectOptions = {}): Promise<ProjectBuild> {
  const project = await loadProject(dir);
  const lock = await lockProject(ctx, project.dir, options.frozen ? { frozen: true } : {});
  const order = buildOrder(lock);
  const loaded = new Map<string, LoadedRecipe>();
  for (const pkg of order) loaded.set(pkg.name, await recipeForLocked(ctx, project.dir, pkg));

  // Every key first: the gc root is registered before anything is built, so a concurrent
  // `kiln gc` never removes an entry this build has just made and not yet recorded.
  const keys = new Map<string, string>();
  const depKeys = (names: string[]): { key: string }[] => names.filter((n) => keys.has(n)).map((n) => ({ key: keys.get(n)! }));
  for (const pkg of order) {
    if (pkg.debian) continue;
    keys.set(pkg.name, await keyFor(ctx, { loaded: loaded.get(pkg.name)!, kind: 'package', deps: depKeys(sysrootNames(lock, pkg.dependencies, pkg.buildDependencies)) }));
  }
  const own = projectRecipe(project);
  const ownDeps = sysrootNames(lock, Object.keys(lock.root.dependencies), Object.keys(lock.root.buildDependencies));
  const ownKey = own.recipe.build ? await keyFor(ctx, { loaded: own, kind: 'project', deps: depKeys(ownDeps) }) : undefined;
  const gcRoot = await registerRoot(ctx, project.dir, [...keys.values(), ...(ownKey ? [ownKey] : [])]);

  const entries = new Map<string, StoreEntry>();
  const packages: BuiltPackage[] = [];
  for (const pkg of order) {
    const recipe = loaded.get(pkg.name)!;
    if (pkg.debian) {
      const started = Date.now();
      const debian = await realiseDebian(ctx, pkg.debian);
      packages.push({ locked: pkg, loaded: recipe, debian, built: false, seconds: (Date.now() - started) / 1000 });
      continue;
    }
    const deps = sysrootNames(lock, pkg.dependencies, pkg.buildDependencies).flatMap((n) => (entries.has(n) ? [entries.get(n)!] : []));
    const result = await buildRecipe(ctx, { loaded: recipe, kind: 'package', deps });
    entries.set(pkg.name, result.entry);
    packages.push({ locked: pkg, loaded: recipe, entry: result.entry, built: result.built, seconds: result.seconds });
    ctx.reporter.emit({ type: 'info', message: `${pkg.name} ${pkg.version}: ${result.built ? `built in ${result.seconds.toFixed(1)} s` : 'in the store'} (${result.entry.dir})` });
  }
  let projectEntry: StoreEntry | undefined;
  let projectBuilt = false;
  if (own.recipe.build) {
    const deps = ownDeps.flatMap((n) => (entries.has(n) ? [entries.get(n)!] : []));
    const result = await buildRecipe(ctx, { loaded: own, kind: 'project', deps });
    projectEntry = result.entry;
    projectBuilt = result.built;
    ctx.reporter.emit({ type: 'info', message: `${project.manifest.package.name} ${project.manifest.package.version}: ${result.built ? `built in ${result.seconds.toFixed(1)} s` : 'in the store'} (${result.entry.dir})` });
  }
  return { project, lock, packages, ...(projectEntry ? { projectEntry } : {}), projectBuilt, projectRecipe: own, gcRoot };
}

/** For `kiln gc`: an entry stays while the project's kiln.lock pins the recipe it was built from. */
export const lockReferences: LockReferences = async (projectDir: string, meta: StoreMeta) => {
  const lock = await readLock(projectDir).catch(() => undefined);
  return lock?.packages.some((p) => p.name === meta.name && p.version === meta.version && p.recipeSha256 === meta.recipeSha256) ?? false;
};

/**
 * For `kiln gc`: what a project's kiln.lock pins stays cached: its packages' sources and the
 * .debs of its Debian closures (an unreadable lock throws: keep all).
 */
export const lockSources: LockSources = async (projectDir: string) => {
  const lock = await readLock(projectDir);
  return (
    lock?.packages.flatMap((p) => [...p.sources.flatMap((s) => (s.sha256 ? [s.sha256] : [])), ...(p.debian?.closure.map((entry) => entry.sha256) ?? [])]) ?? []
  );
};

export async function isProjectDir(path: string): Promise<boolean> {
  return access(join(path, 'kiln.toml')).then(
    () => true,
    () => false,
  );
}
