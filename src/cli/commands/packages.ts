import { basename, resolve } from 'node:path';
import type { Context } from '../../context.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import { lockPaths, lockProject, readLock, type Lockfile } from '../../packages/lock.js';
import { parseManifest, projectJsonSchema } from '../../packages/manifest.js';
import { addDependency, initProject } from '../../packages/project.js';
import { loadRecipe, recipeJsonSchema } from '../../packages/recipe.js';
import { buildIndex } from '../../packages/sources/index.js';
import { readFile } from 'node:fs/promises';
import type { OutputMode } from '../render.js';

/** `kiln init|add|lock|tree|why|recipe|index`: thin wrappers over src/packages. */

export async function initCommand(ctx: Context, dir: string | undefined, options: { name?: string }): Promise<number> {
  const result = await initProject(dir ?? '.', options.name === undefined ? {} : { name: options.name });
  ctx.reporter.emit({ type: 'info', message: `created ${result.name}: ${result.files.map((f) => basename(f)).join(', ')} in ${result.dir}` });
  return 0;
}

export async function addCommand(ctx: Context, specs: string[], options: { build?: boolean; dir?: string }): Promise<number> {
  for (const spec of specs) {
    const added = await addDependency(ctx, options.dir ?? '.', spec, { build: options.build ?? false });
    const locked = added.lock.packages.find((p) => p.name === added.name);
    ctx.reporter.emit({ type: 'info', message: `added ${added.name} = "${added.range}" to [${added.section}]${locked ? ` (locked ${locked.version})` : ''}` });
  }
  return 0;
}

export async function lockCommand(ctx: Context, options: { frozen?: boolean; update: string[]; dir?: string }): Promise<number> {
  await lockProject(ctx, options.dir ?? '.', { frozen: options.frozen ?? false, update: options.update });
  return 0;
}

async function requireLock(dir: string): Promise<Lockfile> {
  const lock = await readLock(dir);
  if (!lock) throw new KilnError(ErrorCodes.LOCK_DRIFT, `there is no kiln.lock in ${resolve(dir)}`, { hint: 'run `kiln lock` first' });
  return lock;
}

/** The dependency tree, from kiln.lock; a package shown before is marked (*) instead of repeated. */
export async function treeCommand(options: { dir?: string }, mode: OutputMode): Promise<number> {
  const lock = await requireLock(options.dir ?? '.');
  if (mode === 'json') {
    process.stdout.write(JSON.stringify(lock) + '\n');
    return 0;
  }
  const byName = new Map(lock.packages.map((p) => [p.name, p]));
  const lines = [`${lock.root.name} ${lock.root.version}`];
  const shown = new Set<string>();
  const walk = (deps: string[], build: string[], prefix: string): void => {
    const children = [...deps.map((n) => ({ n, b: false })), ...build.map((n) => ({ n, b: true }))];
    children.forEach(({ n, b }, i) => {
      const last = i === children.length - 1;
      const p = byName.get(n);
      const again = shown.has(n) && p !== undefined && p.dependencies.length + p.buildDependencies.length > 0;
      const tags = [b ? 'build' : '', p?.debian ? 'debian' : '', again ? '*' : ''].filter((t) => t !== '');
      lines.push(`${prefix}${last ? '└── ' : '├── '}${n} ${p?.version ?? '?'}${tags.length > 0 ? ` (${tags.join(', ')})` : ''}`);
      if (p && !again) {
        shown.add(n);
        walk(p.dependencies, p.buildDependencies, prefix + (last ? '    ' : '│   '));
      }
    });
  };
  walk(Object.keys(lock.root.dependencies).sort(), Object.keys(lock.root.buildDependencies).sort(), '');
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** Every path from the project to NAME. */
export async function whyCommand(name: string, options: { dir?: string }, mode: OutputMode): Promise<number> {
  const lock = await requireLock(options.dir ?? '.');
  const target = lock.packages.find((p) => p.name === name);
  if (!target) throw new KilnError(ErrorCodes.PACKAGE_UNKNOWN, `${name} is not in kiln.lock`, { hint: 'see `kiln tree` for the locked packages' });
  const versions = new Map(lock.packages.map((p) => [p.name, p.version]));
  versions.set(lock.root.name, lock.root.version);
  const paths = lockPaths(lock, name);
  if (mode === 'json') {
    process.stdout.write(JSON.stringify({ name, version: target.version, buildOnly: target.buildOnly, paths }) + '\n');
    return 0;
  }
  for (const path of paths) {
    process.stdout.write(path.map((s, i) => `${i > 0 && s.build ? '(build) ' : ''}${s.name} ${versions.get(s.name) ?? ''}`.trimEnd()).join(' -> ') + '\n');
  }
  return 0;
}

export function recipeSchemaCommand(options: { project?: boolean }): number {
  process.stdout.write(JSON.stringify(options.project ? projectJsonSchema() : recipeJsonSchema(), null, 2) + '\n');
  return 0;
}

/** Validates a recipe (or a kiln.toml); problems come back as KILN_RECIPE_INVALID / KILN_MANIFEST_INVALID with paths. */
export async function recipeCheckCommand(ctx: Context, file: string): Promise<number> {
  if (basename(file) === 'kiln.toml') {
    const manifest = parseManifest(await readFile(file, 'utf8').catch((error: unknown) => {
      throw new KilnError(ErrorCodes.MANIFEST_INVALID, `cannot read ${file}`, { cause: error });
    }), file);
    ctx.reporter.emit({ type: 'info', message: `${file}: valid project manifest (${manifest.package.name} ${manifest.package.version})` });
  } else {
    const loaded = await loadRecipe(file);
    ctx.reporter.emit({ type: 'info', message: `${file}: valid recipe (${loaded.recipe.package.name} ${loaded.recipe.package.version}, sha256 ${loaded.sha256.slice(0, 12)})` });
  }
  return 0;
}

export async function indexBuildCommand(ctx: Context, dir: string): Promise<number> {
  const built = await buildIndex(resolve(dir));
  ctx.reporter.emit({ type: 'info', message: `wrote ${built.file}: ${built.packages} packages, ${built.versions} versions` });
  return 0;
}
