import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { getTuple } from './tuples.js';

/**
 * One sysroot per tuple, under kiln's cache directory: the place `make install DESTDIR=...`
 * puts a package's headers and libraries so that the next package finds them through the
 * wrappers (-isystem/-L) and the pkg-config wrapper, and never the host's.
 */
export function sysrootPath(ctx: Context, tupleName: string): string {
  const tuple = getTuple(tupleName);
  return join(ctx.paths.cache, 'sysroot', tuple.name);
}

/** Creates the sysroot's standard directories (so -L/-isystem point at something real). */
export async function ensureSysroot(ctx: Context, tupleName: string): Promise<string> {
  const root = sysrootPath(ctx, tupleName);
  await Promise.all(['usr/include', 'usr/lib/pkgconfig', 'usr/share/pkgconfig', 'usr/bin'].map((dir) => mkdir(join(root, dir), { recursive: true })));
  return root;
}
