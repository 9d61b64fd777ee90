import { access, chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from '../context.js';
import { ErrorCodes, KilnError, isKilnError } from '../errors.js';
import { compileC, compilerIdentity } from '../toolchain/musl.js';
import { canonicalJson, publishDirectory, sha256, sha256File } from '../util/fs.js';

/**
 * Builds the guest init shim (shim.c, PID 1 of every guest) with the musl toolchain into a
 * content-addressed cache: <cache>/shim/<key>/kiln-init, where the key hashes everything
 * that decides the binary's bytes (source, compiler identity, flags). Builds are reproducible,
 * so a key always names the same bytes, wherever it was built.
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
/** Bump when the way the shim is built changes in a way the key does not capture. */
const RECIPE_VERSION = 1;

/**
 * The C source: next to this module (dist/src/init/, where the build copies it), or, when the
 * TypeScript was compiled without that copy step, in the source tree beside dist/.
 */
export async function shimSourcePath(): Promise<string> {
  const candidates = [new URL('./shim.c', import.meta.url), new URL('../../../src/init/shim.c', import.meta.url)];
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate);
    try {
      await access(path);
      return path;
    } catch {
      // try the next place
    }
  }
  throw new KilnError(ErrorCodes.SHIM_BUILD_FAILED, 'the init shim source (shim.c) is missing from this kiln installation', {
    hint: 'reinstall kiln, or in a checkout run `npm run build` (it copies shim.c into dist/)',
    details: candidates.map((candidate) => `looked for ${fileURLToPath(candidate)}`),
  });
}

export function shimCacheKey(source: Buffer, identity: string): string {
  return sha256(
    canonicalJson({
      recipe: RECIPE_VERSION,
      source: sha256(source),
      compiler: identity,
      cflags: SHIM_CFLAGS,
      ldflags: SHIM_LDFLAGS,
      static: true,
    }),
  );
}

export async function buildShim(ctx: Context): Promise<BuiltShim> {
  const sourcePath = await shimSourcePath();
  const source = await readFile(sourcePath);
  const compiler = await compilerIdentity(ctx.env);
  const key = shimCacheKey(source, compiler);
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
      await compileC(ctx, { sources: [sourcePath], output, cflags: [...SHIM_CFLAGS], ldflags: [...SHIM_LDFLAGS] });
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

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
