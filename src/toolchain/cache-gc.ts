import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { TOOLCHAIN_MANIFEST } from './install.js';

/**
 * For `kiln gc`: toolchain caches nobody uses any more. Every install of the wrappers into the
 * cache (`<cache>/toolchain/<key>/`, one key per kiln version, generator, host compiler and
 * tuple set) touches its manifest, so an install that no build has asked for in
 * TOOLCHAIN_IDLE_DAYS belongs to a kiln or a compiler that is gone (an upgrade makes a new key)
 * and is rebuilt in a second if it is ever needed again. A downloaded C library
 * (`<cache>/libc/<sha256>/`, e.g. musl-dev:arm64) goes with the last install that names it.
 */
export const TOOLCHAIN_IDLE_DAYS = 30;

export async function staleToolchainCaches(ctx: Context, now: number): Promise<{ path: string; why: string }[]> {
  const found: { path: string; why: string }[] = [];
  const maxIdleMs = TOOLCHAIN_IDLE_DAYS * 86_400_000;
  const root = join(ctx.paths.cache, 'toolchain');
  const keptLibcs = new Set<string>();
  for (const name of (await readdir(root).catch(() => [] as string[])).sort()) {
    if (!/^[0-9a-f]{16}$/.test(name)) continue;
    const manifest = join(root, name, TOOLCHAIN_MANIFEST);
    const used = await stat(manifest).then((info) => info.mtimeMs, () => undefined);
    if (used !== undefined && now - used <= maxIdleMs) {
      for (const hash of (await readFile(manifest, 'utf8').catch(() => '')).match(/[0-9a-f]{64}/g) ?? []) keptLibcs.add(hash);
      continue;
    }
    found.push({ path: join(root, name), why: used === undefined ? 'toolchain install without a manifest (interrupted)' : `toolchain install unused for more than ${TOOLCHAIN_IDLE_DAYS} days` });
  }
  const libcs = join(ctx.paths.cache, 'libc');
  for (const name of (await readdir(libcs).catch(() => [] as string[])).sort()) {
    if (!/^[0-9a-f]{64}$/.test(name) || keptLibcs.has(name)) continue;
    const made = await stat(join(libcs, name)).then((info) => info.mtimeMs, () => now);
    if (now - made > maxIdleMs) found.push({ path: join(libcs, name), why: `C library download no toolchain install has used for ${TOOLCHAIN_IDLE_DAYS} days` });
  }
  return found;
}
