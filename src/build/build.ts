import { copyFile, cp, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { LoadedRecipe, RecipeSource } from '../packages/recipe.js';
import { ensureEntry, storeDir, withWorkDir, type StoreEntry } from '../store/store.js';
import { hashTree, normaliseTree } from '../store/tree.js';
import { installToolchain } from '../toolchain/install.js';
import { detectCompiler } from '../toolchain/compiler.js';
import { WRAPPER_VERSION } from '../toolchain/provenance.js';
import { getTuple } from '../toolchain/tuples.js';
import { canonicalJson, sha256 } from '../util/fs.js';
import { extractArchive, sniffArchive } from './archive.js';
import { fetchSource, isProjectNoise, type FetchedSource } from './fetch.js';
import { BASE_PATH, runSteps } from './sandbox.js';

/**
 * Building one recipe into the store. The build key is a hash of everything that shapes the
 * output: the recipe's bytes, its sources' hashes, the tuple, the toolchain (wrapper version and
 * host compiler identity) and the keys of the entries installed into its sysroot. Equal keys
 * mean the entry is reused without building (from any project on this machine).
 *
 * A build runs in <store>/.build/<name>-<version> (a fixed path, so paths that end up in
 * outputs do not vary from run to run or key to key): a clean copy of the sources, a private toolchain install whose sysroot
 * holds only the dependencies' store trees, the steps (src/build/sandbox.ts), then the
 * normalised DESTDIR becomes the entry's tree.
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

export function buildKey(inputs: BuildKeyInputs): string {
  return sha256(canonicalJson({ v: 1, ...inputs, deps: [...inputs.deps].sort() }));
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
      const epoch = recipe.build?.env.SOURCE_DATE_EPOCH ?? SOURCE_DATE_EPOCH;
      const base: Record<string, string> = {
        PATH: `${toolchain.binDir}:${BASE_PATH}`,
        HOME: join(work, 'home'),
        TMPDIR: scratch,
        LC_ALL: 'C',
        TZ: 'UTC',
        SOURCE_DATE_EPOCH: epoch,
        CONFIG_SITE: toolchain.configSite,
        KILN_TUPLE: tuple,
        KILN_DESTDIR: destdir,
        KILN_JOBS: JOBS,
        KILN_SYSROOT: sysroot,
      };
      const extra = Object.fromEntries(Object.entries(recipe.build?.env ?? {}).map(([k, v]) => [k, v.includes('$KILN_') || v.includes('${KILN_') ? v.replace(/\$\{?KILN_[A-Z0-9_]+\}?/g, (m) => base[m.replace(/[${}]/g, '')] ?? m) : v]));
      const env = { ...base, ...extra };
      if (recipe.build) await runSteps(ctx, { steps: recipe.build.steps, cwd: srcDir, writable: work, env, log, what, keptLog });
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
