import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { x as extractTar } from 'tar';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { RecipeSource } from '../packages/recipe.js';
import { hashTree } from '../store/tree.js';
import { run } from '../util/exec.js';
import { exists, sha256File } from '../util/fs.js';
import { ownedTempPrefix } from '../util/temp-owner.js';

/**
 * Obtaining a recipe's sources. Downloads and npm tarballs are checked against the recipe's
 * sha256 and kept in <cache>/sources/<sha256>, so a second build (of any project) reads them
 * from there without touching the network. Path sources are hashed where they are.
 */

export interface FetchedSource {
  /** A file, or a directory (path sources only). */
  path: string;
  kind: 'file' | 'dir';
  sha256: string;
  /** The file name to use when the source is placed unextracted. */
  name: string;
}

export function sourcesCacheDir(ctx: Context): string {
  return join(ctx.paths.cache, 'sources');
}


function mismatch(what: string, expected: string, actual: string): KilnError {
  return new KilnError(ErrorCodes.SOURCE_HASH_MISMATCH, `${what} does not match the sha256 in its recipe`, {
    details: [`expected ${expected}`, `actual   ${actual}`],
    hint: 'the source changed or was tampered with; if you trust the new bytes, update sha256 in the recipe',
  });
}

/** Moves a checked file into the cache under its hash (rename: readers never see a partial file). */
async function keep(ctx: Context, file: string, hash: string): Promise<string> {
  const dest = join(sourcesCacheDir(ctx), hash);
  await rename(file, dest);
  return dest;
}

async function download(ctx: Context, url: string, expected: string): Promise<string> {
  const cached = join(sourcesCacheDir(ctx), expected);
  if (await exists(cached)) return cached;
  if (!/^https?:\/\//.test(url)) throw new KilnError(ErrorCodes.SOURCE_FETCH_FAILED, `${url}: only http and https URLs are fetched`);
  await mkdir(sourcesCacheDir(ctx), { recursive: true });
  const tmp = join(sourcesCacheDir(ctx), `${ownedTempPrefix('.download-')}${Date.now()}`);
  ctx.reporter.emit({ type: 'download', what: url });
  try {
    const response = await fetch(url, { ...(ctx.signal ? { signal: ctx.signal } : {}), redirect: 'follow' }).catch((error: unknown) => {
      throw new KilnError(ErrorCodes.SOURCE_FETCH_FAILED, `cannot download ${url}`, { cause: error, details: [String((error as Error).cause ?? (error as Error).message)] });
    });
    if (!response.ok || !response.body) throw new KilnError(ErrorCodes.SOURCE_FETCH_FAILED, `cannot download ${url}: HTTP ${response.status}`);
    const hash = createHash('sha256');
    const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
    body.on('data', (chunk: Buffer) => hash.update(chunk));
    await pipeline(body, createWriteStream(tmp));
    const actual = hash.digest('hex');
    if (actual !== expected) throw mismatch(url, expected, actual);
    return await keep(ctx, tmp, actual);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * `npm pack NAME@VERSION` in a scratch directory, with the host's npm configuration (registry,
 * proxy, auth) since the caller's environment is passed on; then, if asked, one member file.
 */
async function npmPack(ctx: Context, spec: string, member: string | undefined, expected: string): Promise<string> {
  const cached = join(sourcesCacheDir(ctx), expected);
  if (await exists(cached)) return cached;
  await mkdir(sourcesCacheDir(ctx), { recursive: true });
  const scratch = await mkdtemp(join(sourcesCacheDir(ctx), ownedTempPrefix('.npm-')));
  try {
    ctx.reporter.emit({ type: 'download', what: `npm pack ${spec}` });
    const result = await run('npm', ['pack', spec, '--silent'], { cwd: scratch, env: ctx.env, check: false, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    const tarball = (await readdir(scratch)).find((name) => name.endsWith('.tgz'));
    if (result.code !== 0 || !tarball) {
      throw new KilnError(ErrorCodes.SOURCE_FETCH_FAILED, `npm pack ${spec} failed`, { details: (result.stderr || result.stdout).trim().split('\n').slice(-10), hint: "check the name and version, and npm's registry settings (npm config get registry)" });
    }
    let file = join(scratch, tarball);
    if (member) {
      const out = join(scratch, 'member');
      await mkdir(out);
      const wanted = member.replace(/^\.?\//, '');
      await extractTar({ file, cwd: out, preserveOwner: false, filter: (path) => path.replace(/^\.?\//, '') === wanted });
      file = join(out, wanted);
      // The schema refuses '..' already; this keeps a member from ever naming a host file.
      if (!file.startsWith(`${out}/`)) throw new KilnError(ErrorCodes.SOURCE_FETCH_FAILED, `${spec}: member ${member} is outside the tarball`, { hint: 'name a file inside the npm tarball, e.g. package/deps/x.tar.gz' });
      if (!(await exists(file))) throw new KilnError(ErrorCodes.SOURCE_FETCH_FAILED, `${spec} has no file ${member}`, { hint: `list it with: npm pack ${spec} && tar -tzf <tarball>` });
    }
    const actual = await sha256File(file);
    if (actual !== expected) throw mismatch(`${spec}${member ? ` ${member}` : ''}`, expected, actual);
    return await keep(ctx, file, actual);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Project files that never belong to a build's sources (VCS data, kiln's own outputs). */
export function isProjectNoise(name: string): boolean {
  return name === '.git' || name === '.kiln' || name === 'node_modules';
}

export async function fetchSource(ctx: Context, source: RecipeSource, recipeDir: string): Promise<FetchedSource> {
  if (source.path !== undefined) {
    const path = resolve(recipeDir, source.path);
    const info = await stat(path).catch((error: unknown) => {
      throw new KilnError(ErrorCodes.SOURCE_FETCH_FAILED, `source path ${source.path} does not exist (relative to ${recipeDir})`, { cause: error });
    });
    if (info.isDirectory()) {
      const tree = await hashTree(path, isProjectNoise);
      if (source.sha256 && source.sha256 !== tree.sha256) throw mismatch(`directory ${path}`, source.sha256, tree.sha256);
      return { path, kind: 'dir', sha256: tree.sha256, name: basename(path) };
    }
    const actual = await sha256File(path);
    if (source.sha256 && source.sha256 !== actual) throw mismatch(path, source.sha256, actual);
    return { path, kind: 'file', sha256: actual, name: basename(path) };
  }
  const expected = source.sha256!; // the schema requires it for url and npm sources
  if (source.url !== undefined) {
    const path = await download(ctx, source.url, expected);
    return { path, kind: 'file', sha256: expected, name: basename(new URL(source.url).pathname) || 'source' };
  }
  const path = await npmPack(ctx, source.npm!, source.member, expected);
  return { path, kind: 'file', sha256: expected, name: source.member ? basename(source.member) : `${source.npm!.replace(/^@/, '').replace(/[/@]/g, '-')}.tgz` };
}
