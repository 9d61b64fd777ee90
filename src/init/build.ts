import { access, chmod, readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from '../context.js';
import { ErrorCodes, KilnError, isKilnError } from '../errors.js';
import { compileC, compilerIdentity } from '../toolchain/musl.js';
import { installToolchain } from '../toolchain/install.js';
import { ARCHS, type Arch } from '../arch.js';
import { canonicalJson, exists, publishDirectory, sha256, sha256File } from '../util/fs.js';

/**
 * Builds the guest init shim (src/init/shim/: shim.h and one .c file per job; PID 1 of every
 * guest) with the musl toolchain into a content-addressed cache: <cache>/shim/<key>/kiln-init,
 * where the key hashes everything that decides the binary's bytes (every source and header
 * file's name and content, compiler identity, flags). Builds are reproducible, so a key always
 * names the same bytes, wherever it was built.
 */

export interface BuiltShim {
  /** The static ELF, to be placed at /kiln/init in the guest. */
  path: string;
  sha256: string;
  /** True when it came from the cache rather than from a compile. */
  cached: boolean;
  /** compilerIdentity() of the toolchain that built it (part of the cache key; for manifests). */
  compiler: string;
}

export const SHIM_FILE = 'kiln-init';
export const SHIM_CFLAGS: readonly string[] = ['-std=gnu11', '-Wall', '-Wextra'];
/** Stripped: the shim is in every image, and symbols help nobody inside the guest. */
export const SHIM_LDFLAGS: readonly string[] = ['-s'];
/** The shared header: its presence marks a shim source directory. */
const SHIM_HEADER = 'shim.h';
/** Bump when the way the shim is built changes in a way the key does not capture. */
const RECIPE_VERSION = 2;

/** One file of the shim's source directory: its name there and its bytes. */
export interface ShimSourceFile {
  name: string;
  content: Buffer;
}

export interface ShimSources {
  /** The directory holding shim.h and the .c files; also the compile's include path. */
  dir: string;
  /** The .c files, absolute, in the fixed order they are compiled and linked in. */
  sources: string[];
  /** Every .c and .h file, in the same fixed order: what the cache key hashes. */
  files: ShimSourceFile[];
}

/**
 * The C source directory: next to this module (dist/src/init/shim/, where the build copies
 * it), or, when the TypeScript was compiled without that copy step, in the source tree beside
 * dist/.
 */
export async function shimSourceDir(): Promise<string> {
  const candidates = [new URL('./shim/', import.meta.url), new URL('../../../src/init/shim/', import.meta.url)];
  for (const candidate of candidates) {
    const dir = resolve(fileURLToPath(candidate)); // without the URL's trailing slash
    try {
      await access(join(dir, SHIM_HEADER));
      return dir;
    } catch {
      // try the next place
    }
  }
  throw new KilnError(ErrorCodes.SHIM_BUILD_FAILED, 'the init shim source (src/init/shim/) is missing from this kiln installation', {
    hint: 'reinstall kiln, or in a checkout run `npm run build` (it copies src/init/shim/ into dist/)',
    details: candidates.map((candidate) => `looked for ${join(fileURLToPath(candidate), SHIM_HEADER)}`),
  });
}

/**
 * Reads the shim's .c and .h files. The order is by name in code-unit order, never the
 * directory's or the locale's, so that link order (and with it the binary) is the same on
 * every host.
 */
export async function readShimSources(dir: string): Promise<ShimSources> {
  const names = (await readdir(dir))
    .filter((name) => name.endsWith('.c') || name.endsWith('.h'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files = await Promise.all(names.map(async (name) => ({ name, content: await readFile(join(dir, name)) })));
  const sources = names.filter((name) => name.endsWith('.c')).map((name) => join(dir, name));
  if (sources.length === 0) {
    throw new KilnError(ErrorCodes.SHIM_BUILD_FAILED, `the init shim source directory ${dir} has no .c files`, {
      hint: 'reinstall kiln, or in a checkout run `npm run build`',
    });
  }
  return { dir, sources, files };
}

export function shimCacheKey(files: readonly ShimSourceFile[], identity: string): string {
  return sha256(
    canonicalJson({
      recipe: RECIPE_VERSION,
      // Names too: moving code between files changes what is compiled together.
      sources: files.map((file) => ({ name: file.name, sha256: sha256(file.content) })),
      compiler: identity,
      cflags: SHIM_CFLAGS,
      ldflags: SHIM_LDFLAGS,
      static: true,
    }),
  );
}

/**
 * The x86_64 shim is built with the host's musl-gcc; other architectures with kiln's own cross
 * wrapper for the arch's tuple (aarch64-kiln-linux-musl-gcc over Debian's cross gcc). The
 * compiler identity names the tuple, so each architecture has its own cache key.
 */
async function shimCompiler(ctx: Context, arch: Arch): Promise<{ program?: string; identity: string }> {
  if (arch === 'x86_64') return { identity: await compilerIdentity(ctx.env) };
  const tupleName = ARCHS[arch].defaultTuple;
  const toolchain = await installToolchain(ctx, { tuples: [tupleName] });
  const tuple = toolchain.tuples.find((t) => t.tuple === tupleName);
  if (!tuple) {
    throw new KilnError(ErrorCodes.COMPILER_MISSING, `the ${arch} init shim needs the ${tupleName} toolchain, which cannot be installed here`, { details: toolchain.skipped });
  }
  return { program: join(toolchain.binDir, `${tupleName}-gcc`), identity: `${tupleName}: ${tuple.provenance.compiler}; libc ${tuple.libc}` };
}

export async function buildShim(ctx: Context, arch: Arch = 'x86_64'): Promise<BuiltShim> {
  const shim = await readShimSources(await shimSourceDir());
  const { program, identity: compiler } = await shimCompiler(ctx, arch);
  const key = shimCacheKey(shim.files, compiler);
  const dir = join(ctx.paths.cache, 'shim', key);
  const path = join(dir, SHIM_FILE);

  if (await exists(path)) {
    ctx.reporter.emit({ type: 'cache', what: 'init shim', hit: true, key });
    return { path, sha256: await sha256File(path), cached: true, compiler };
  }
  ctx.reporter.emit({ type: 'cache', what: 'init shim', hit: false, key });
  ctx.reporter.emit({ type: 'step', step: 'shim', message: 'building the init shim' });
  await publishDirectory(dir, async (tmp) => {
    const output = join(tmp, SHIM_FILE);
    try {
      // The include path is where this installation keeps the sources, so it is not part of the
      // key: it decides no byte of the (stripped, debug-info-free) output.
      // The cross wrappers refuse -I into /usr/lib (where a global npm install puts kiln), and
      // "shim.h" is found next to each .c file anyway, so they get no -I.
      const cflags = program ? [...SHIM_CFLAGS] : [...SHIM_CFLAGS, `-I${shim.dir}`];
      await compileC(ctx, { sources: shim.sources, output, cflags, ldflags: [...SHIM_LDFLAGS], ...(program ? { compiler: program } : {}) });
    } catch (error) {
      if (!isKilnError(error, ErrorCodes.TOOL_FAILED)) throw error;
      throw new KilnError(ErrorCodes.SHIM_BUILD_FAILED, 'the init shim did not compile', {
        hint: 'this is a bug in kiln or an unsupported compiler: please report it with the details',
        details: error.details,
        cause: error,
      });
    }
    await chmod(output, 0o755);
  });
  return { path, sha256: await sha256File(path), cached: false, compiler };
}

