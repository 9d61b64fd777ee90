import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareDebianVersions } from './debian-version.js';
import type { KernelEntryMeta } from './types.js';

/**
 * Layout of the kernel cache. One directory per unpacked kernel package, named by the .deb's
 * sha256, published atomically (util/fs publishDirectory), never modified afterwards except
 * to add derived files (the module index):
 *
 *   <cache>/kernels/<sha256>/vmlinuz
 *                           config
 *                           meta.json            KernelEntryMeta
 *                           modules.index.json   ModuleIndex (modules.ts)
 *                           lib/modules/<release>/kernel/...  modules.builtin*
 */
export const KERNEL_IMAGE_FILE = 'vmlinuz';
export const KERNEL_CONFIG_FILE = 'config';
export const KERNEL_META_FILE = 'meta.json';

export function kernelsDir(cache: string): string {
  return join(cache, 'kernels');
}

export function kernelEntryDir(cache: string, sha256: string): string {
  return join(kernelsDir(cache), sha256);
}

/** The entry's meta, or undefined if the entry is absent or not a complete entry. */
export async function readKernelEntry(cache: string, sha256: string): Promise<KernelEntryMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(kernelEntryDir(cache, sha256), KERNEL_META_FILE), 'utf8')) as Partial<KernelEntryMeta>;
    if (meta.sha256 !== sha256 || !meta.package || !meta.version || !meta.release || !meta.arch) return undefined;
    return meta as KernelEntryMeta;
  } catch {
    return undefined;
  }
}

/** Every complete entry in the cache (temporary `.x.tmp-*` directories are skipped). */
export async function listKernelEntries(cache: string): Promise<KernelEntryMeta[]> {
  const names = await readdir(kernelsDir(cache)).catch(() => [] as string[]);
  const metas = await Promise.all(names.filter((name) => /^[0-9a-f]{64}$/.test(name)).map((name) => readKernelEntry(cache, name)));
  return metas.filter((meta): meta is KernelEntryMeta => meta !== undefined);
}

/**
 * The newest cached kernel matching `filter`, by Debian version order (then release, then
 * hash, so the choice is deterministic even for equal versions).
 */
export async function newestKernelEntry(cache: string, filter: (meta: KernelEntryMeta) => boolean): Promise<KernelEntryMeta | undefined> {
  const entries = (await listKernelEntries(cache)).filter(filter);
  entries.sort((a, b) => compareDebianVersions(b.version, a.version) || b.release.localeCompare(a.release) || a.sha256.localeCompare(b.sha256));
  return entries[0];
}
