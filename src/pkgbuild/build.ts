import { copyFile, cp, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { LoadedRecipe, RecipeSource } from '../packages/recipe.js';
import { ensureEntry, storeDir, withWorkDir, type StoreEntry } from '../store/store.js';
import { hashTree, normaliseTree, walkTree } from '../store/tree.js';
import { installToolchain } from '../toolchain/install.js';
import { detectCompiler } from '../toolchain/compiler.js';
import { WRAPPER_VERSION } from '../toolchain/provenance.js';
import { getTuple } from '../toolchain/tuples.js';
import { canonicalJson, sha256 } from '../util/fs.js';
import { extractArchive, sniffArchive } from './archive.js';
import { fetchSource, isProjectNoise, type FetchedSource } from './fetch.js';
import { BASE_PATH, BUILD_ROOT, insideBuild, runSteps } from './sandbox.js';

/**
 * Building one recipe into the store. The build key is a hash of everything that shapes the
 * output: the recipe's bytes, its sources' hashes, the tuple, the toolchain (wrapper version and
 * host compiler identity) and the keys of the entries installed into its sysroot. Equal keys
 * mean the entry is reused without building (from any project on this machine).
 *
 * A build runs in <store>/.build/<name>-<version>, which its steps see at BUILD_ROOT
 * (/kiln-build), so paths that end up in outputs vary neither with the key nor with the cache
 * location: a clean copy of the sources, a private toolchain install whose sysroot holds only
 * the dependencies' store trees, the steps (src/pkgbuild/sandbox.ts), then the normalised DESTDIR
 * becomes the entry's tree.
 */

export const SOURCE_DATE_EPOCH = '0';
/** Build steps get two jobs: kiln machines are small and several builds may share them. */
const JOBS = '2';

export interface BuildRequest {
  loaded: LoadedRecipe;
  kind: 'package' | 'project';
  /** Store entries whose trees go into the build's sysroot (runtime and build dependencies, closed). */
  deps: StoreEntry[];
}

export interface BuildResult {
  entry: StoreEntry;
  built: boolean;
  seconds: number;
}

export interface BuildKeyInputs {
  recipeSha256: string;
  sources: string[];
  tuple: string;
  toolchain: string;
  deps: string[];
  kind: 'package' | 'project';
}

/** The build procedure's version: 2 since steps run at BUILD_ROOT (entries of 1 embed their cache path). */
const BUILD_PROCEDURE = 2;

export function buildKey(inputs: BuildKeyInputs): string {
  return sha256(canonicalJson({ v: BUILD_PROCEDURE, ...inputs, deps: [...inputs.deps].sort() }));
}

/** The toolchain's identity for keys: wrapper version and host compiler, as its provenance notes say. */
const identities = new Map<string, Promise<string>>();

export function toolchainIdentity(ctx: Context, tuple: string): Promise<string> {
  // Once per process and cache: a project build asks for every package.
  const memo = `${ctx.paths.cache}\0${tuple}`;
  let identity = identities.get(memo);
  if (!identity) {
    identity = readToolchainIdentity(ctx, tuple);
    identities.set(memo, identity);
    identity.catch(() => identities.delete(memo));
  }
  return identity;
}

/**
 * What the wrappers produce depends on their version, the host compiler behind them and the C
 * library they link: those three make the identity. Asking gcc directly takes a fraction of a
 * second, where a full installToolchain also probes clang (seconds on a busy machine), so a
 * build found in the store stays quick.
 */
async function readToolchainIdentity(ctx: Context, tuple: string): Promise<string> {
  const info = getTuple(tuple);
  const compiler = await detectCompiler(ctx.env);
  const libc = info.libcLib ? await stat(join(info.libcLib, 'libc.a')).then((s) => `${s.size}@${Math.round(s.mtimeMs)}`, () => 'absent') : 'host';
  return `${WRAPPER_VERSION} ${compiler.kind} ${compiler.version} (${compiler.identity}) libc ${libc}`;
}

/** Source hashes as the key needs them, without fetching: url and npm sources name theirs. */
async function sourceHashes(ctx: Context, loaded: LoadedRecipe): Promise<string[]> {
  const hashes: string[] = [];
  for (const source of loaded.recipe.sources) {
    hashes.push(source.path !== undefined ? (await fetchSource(ctx, source, loaded.dir)).sha256 : source.sha256!);
  }
  return hashes;
}

export function recipeTuple(loaded: LoadedRecipe): string {
  return loaded.recipe.build?.tuple ?? 'x86_64-kiln-linux-musl';
}

/** The key of a build; only the dependencies' keys matter, so it is known before they are built. */
export async function keyFor(ctx: Context, request: { loaded: LoadedRecipe; kind: 'package' | 'project'; deps: readonly { key: string }[] }): Promise<string> {
  const tuple = recipeTuple(request.loaded);
  return buildKey({
    recipeSha256: request.loaded.sha256,
    sources: await sourceHashes(ctx, request.loaded),
    tuple,
    toolchain: await toolchainIdentity(ctx, tuple),
    deps: request.deps.map((d) => d.key),
    kind: request.kind,
  });
}

function inside(root: string, sub: string | undefined, what: string): string {
  const target = resolve(root, sub ?? '.');
  if (target !== root && !target.startsWith(root + sep)) throw new KilnError(ErrorCodes.RECIPE_INVALID, `${what}: into = ${JSON.stringify(sub)} leaves the build tree`);
  return target;
}

async function placeSource(source: RecipeSource, fetched: FetchedSource, srcDir: string, scratch: string): Promise<void> {
  const dest = inside(srcDir, source.into, fetched.name);
  await mkdir(dest, { recursive: true });
  if (fetched.kind === 'dir') {
    await cp(fetched.path, dest, { recursive: true, verbatimSymlinks: true, filter: (from) => !isProjectNoise(relative(fetched.path, from).split(sep)[0] ?? '') });
    return;
  }
  const extract = source.extract ?? (await sniffArchive(fetched.path)) !== undefined;
  if (extract) await extractArchive(fetched.path, dest, { strip: source.strip ?? 1, label: fetched.name, scratch });
  else await copyFile(fetched.path, join(dest, fetched.name));
}

/**
 * Rewrites `from` to `to` in the text files under `root` (the toolchain's wrappers, specs,
 * config.site, CMake and Meson files name their install paths). Files without NUL bytes only:
 * an object file holds no paths to rewrite, and its bytes must stay as they are.
 */
export async function relocateTree(root: string, from: string, to: string): Promise<number> {
  let rewritten = 0;
  await walkTree(root, async (_rel, abs, kind) => {
    if (kind !== 'file') return;
    const bytes = await readFile(abs);
    if (bytes.includes(0) || !bytes.includes(from)) return;
    await writeFile(abs, bytes.toString('utf8').split(from).join(to));
    rewritten += 1;
  });
  return rewritten;
}

/** Builds (or finds) the store entry of one recipe. */
export async function buildRecipe(ctx: Context, request: BuildRequest): Promise<BuildResult> {
  const started = Date.now();
  const { recipe } = request.loaded;
  const what = `${recipe.package.name} ${recipe.package.version}`;
  const key = await keyFor(ctx, request);
  const tuple = recipeTuple(request.loaded);
  const { entry, built } = await ensureEntry(ctx, { key, name: recipe.package.name, version: recipe.package.version }, (tree) =>
    withWorkDir(ctx, recipe.package.name, recipe.package.version, async (work) => {
      const srcDir = join(work, 'src');
      const destdir = join(work, 'destdir');
      const scratch = join(work, 'tmp');
      for (const dir of [srcDir, destdir, scratch, join(work, 'home')]) await mkdir(dir, { recursive: true });
      const log = join(work, 'build.log');
      await writeFile(log, `kiln build of ${what} (key ${key})\n`);
      const keptLog = async (): Promise<string> => {
        const kept = join(storeDir(ctx), 'logs', `${recipe.package.name}-${recipe.package.version}-${key.slice(0, 16)}.log`);
        await mkdir(join(storeDir(ctx), 'logs'), { recursive: true });
        await copyFile(log, kept);
        return kept;
      };
      ctx.reporter.emit({ type: 'step', step: 'build', message: `${what}: fetching ${recipe.sources.length} source(s)` });
      const sources = recipe.sources;
      const hashes: string[] = [];
      for (const source of sources) {
        const fetched = await fetchSource(ctx, source, request.loaded.dir);
        hashes.push(fetched.sha256);
        await placeSource(source, fetched, srcDir, scratch);
      }
      // A private toolchain install: its sysroot is this build's own, holding only its dependencies.
      const toolchain = await installToolchain({ ...ctx, paths: { ...ctx.paths, cache: join(work, 'toolchain-cache') } }, { prefix: join(work, 'toolchain'), tuples: [tuple] });
      const sysroot = toolchain.tuples[0]!.sysroot;
      for (const dep of request.deps) await cp(dep.tree, sysroot, { recursive: true, verbatimSymlinks: true, force: true });
      // The steps see the work tree at BUILD_ROOT: the toolchain's files must name that path too.
      await relocateTree(join(work, 'toolchain'), work, BUILD_ROOT);
      const at = (path: string): string => insideBuild(work, path);
      const epoch = recipe.build?.env.SOURCE_DATE_EPOCH ?? SOURCE_DATE_EPOCH;
      const base: Record<string, string> = {
        PATH: `${at(toolchain.binDir)}:${BASE_PATH}`,
        HOME: at(join(work, 'home')),
        TMPDIR: at(scratch),
        LC_ALL: 'C',
        TZ: 'UTC',
        SOURCE_DATE_EPOCH: epoch,
        CONFIG_SITE: at(toolchain.configSite),
        KILN_TUPLE: tuple,
        KILN_DESTDIR: at(destdir),
        KILN_JOBS: JOBS,
        KILN_SYSROOT: at(sysroot),
      };
      const extra = Object.fromEntries(Object.entries(recipe.build?.env ?? {}).map(([k, v]) => [k, v.includes('$KILN_') || v.includes('${KILN_') ? v.replace(/\$\{?KILN_[A-Z0-9_]+\}?/g, (m) => base[m.replace(/[${}]/g, '')] ?? m) : v]));
      const env = { ...base, ...extra };
      if (recipe.build) await runSteps(ctx, { steps: recipe.build.steps, work, cwd: srcDir, env, log, what, keptLog });
      else if (request.kind === 'package') await cp(srcDir, destdir, { recursive: true, verbatimSymlinks: true }); // a build-less package installs its sources as they are
      await rename(destdir, tree);
      await normaliseTree(tree, Number(epoch));
      const hashed = await hashTree(tree);
      return {
        kind: request.kind,
        license: recipe.package.license,
        recipeSha256: request.loaded.sha256,
        tuple,
        sources: hashes,
        dependencies: request.deps.map((d) => d.key).sort(),
        treeSha256: hashed.sha256,
        files: hashed.files,
        buildSeconds: Math.round((Date.now() - started) / 100) / 10,
      };
    }),
  );
  return { entry, built, seconds: (Date.now() - started) / 1000 };
}
