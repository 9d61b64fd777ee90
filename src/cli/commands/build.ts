import { join } from 'node:path';
import type { Context } from '../../context.js';
import { bake } from '../../bake/index.js';
import { bakeProject, projectBakeRequest } from '../../pkgbuild/bake-project.js';
import { buildProject, isProjectDir, lockReferences, lockSources } from '../../pkgbuild/project.js';
import { collectGarbage, type CachePruner } from '../../store/gc.js';
import { staleDpkgMemos } from '../../supply/dpkg-index.js';
import { staleToolchainCaches } from '../../toolchain/cache-gc.js';
import { toBakeRequest, type RawBakeOptions } from '../options.js';
import type { OutputMode } from '../render.js';

/** `kiln build [DIR]`, `kiln gc`, and `kiln bake|run DIR` for a directory holding kiln.toml. */

export { isProjectDir };

export async function buildCommand(ctx: Context, dir: string, options: { frozen?: boolean }, mode: OutputMode): Promise<number> {
  const started = Date.now();
  const result = await buildProject(ctx, dir, options.frozen ? { frozen: true } : {});
  const rows = result.packages.map((p) => ({
    name: p.locked.name,
    version: p.locked.version,
    kind: p.debian ? 'debian' : 'kiln',
    path: p.entry?.dir ?? p.debian?.root ?? '',
    built: p.built,
    seconds: Math.round(p.seconds * 10) / 10,
  }));
  if (result.projectEntry) {
    rows.push({ name: result.project.manifest.package.name, version: result.project.manifest.package.version, kind: 'project', path: result.projectEntry.dir, built: result.projectBuilt, seconds: 0 });
  }
  const summary = { project: result.project.dir, packages: rows, seconds: Math.round((Date.now() - started) / 100) / 10 };
  if (mode === 'json') process.stdout.write(JSON.stringify(summary) + '\n');
  else if (mode === 'plain') {
    for (const row of rows) process.stdout.write(`${row.name} ${row.version}\t${row.kind}\t${row.path}\n`);
    process.stderr.write(`kiln: built ${result.project.manifest.package.name} (${rows.length} package${rows.length === 1 ? '' : 's'}) in ${summary.seconds.toFixed(1)} s\n`);
  }
  return 0;
}

export async function gcCommand(ctx: Context, options: { dryRun?: boolean }, mode: OutputMode): Promise<number> {
  const pruners: CachePruner[] = [(c) => staleDpkgMemos(c.paths.cache), staleToolchainCaches];
  const report = await collectGarbage(ctx, { dryRun: options.dryRun ?? false, lockReferences, lockSources, pruners });
  if (mode === 'json') process.stdout.write(JSON.stringify(report) + '\n');
  else if (mode !== 'quiet' || report.removed.length > 0) {
    for (const item of report.removed) process.stdout.write(`${options.dryRun ? 'would remove' : 'removed'} ${item.path} (${megabytes(item.bytes)}): ${item.why}\n`);
    process.stderr.write(`kiln: ${options.dryRun ? 'would free' : 'freed'} ${megabytes(report.freedBytes)} in ${report.removed.length} item${report.removed.length === 1 ? '' : 's'}; ${report.keptEntries} store entr${report.keptEntries === 1 ? 'y' : 'ies'} in use\n`);
  }
  return 0;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

/** The image of a project: built, then baked (default output <project>/.kiln/images/<target>). */
export async function bakeProjectCommand(ctx: Context, dir: string, options: RawBakeOptions & { output?: string; frozen?: boolean }, mode: OutputMode): Promise<{ code: number; imageDir: string }> {
  const { appPath: _unused, ...base } = toBakeRequest(join(dir, 'kiln.toml'), options, ctx.env);
  const result = await bakeProject(ctx, dir, base, { ...(options.output ? { output: options.output } : {}), ...(options.frozen ? { frozen: true } : {}) });
  const summary = { image: result.dir, target: result.manifest.target, app: result.manifest.app.guestPath, packages: result.build.packages.length, cached: result.cached };
  if (mode === 'json') process.stdout.write(JSON.stringify(summary) + '\n');
  else if (mode === 'plain') process.stderr.write(`kiln: baked ${summary.image}: ${result.build.project.manifest.package.name}, target ${summary.target}, app ${summary.app}${result.cached ? ' (from cache)' : ''}\n`);
  return { code: 0, imageDir: result.dir };
}

/** `kiln run DIR`: the project's image, baked into the cache (like `kiln run APP`); returns its directory. */
export async function projectImageForRun(ctx: Context, dir: string, options: RawBakeOptions): Promise<string> {
  const { appPath: _unused, ...base } = toBakeRequest(join(dir, 'kiln.toml'), options, ctx.env);
  const { request } = await projectBakeRequest(ctx, dir, base);
  return (await bake(ctx, request)).dir;
}
