import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { canonicalJson, sha256, writeFileAtomically } from '../util/fs.js';
import { resolveKernelPackage, type ResolvedKernelPackage } from './apt.js';
import type { ArchInfo } from '../arch.js';

/**
 * apt-cache's answer depends only on apt's package lists, sources and pinning, and asking it
 * costs about a second on hosts without apt's binary cache. So the answer is remembered under
 * a fingerprint of those files (names, sizes, mtimes): an `apt-get update` that changes any
 * list changes the fingerprint, and the next bake asks apt again.
 */
const APT_STATE_DIRS = ['/var/lib/apt/lists', '/etc/apt/sources.list.d', '/etc/apt/preferences.d'];
const APT_STATE_FILES = ['/etc/apt/sources.list', '/etc/apt/preferences'];

export async function resolveKernelPackageCached(ctx: Context, name: string, arch: ArchInfo): Promise<ResolvedKernelPackage> {
  const fingerprint = await aptStateFingerprint(ctx);
  const memoPath = join(ctx.paths.cache, 'apt-answers', `${sha256([fingerprint, name, arch.dpkgArch].join('\n'))}.json`);
  const remembered = await readFile(memoPath, 'utf8').then((text) => JSON.parse(text) as ResolvedKernelPackage, () => undefined);
  if (remembered?.package && /^[0-9a-f]{64}$/.test(remembered.sha256)) return remembered;
  const resolved = await resolveKernelPackage(ctx, name, arch);
  await writeFileAtomically(memoPath, canonicalJson(resolved));
  return resolved;
}

export async function aptStateFingerprint(ctx: Context): Promise<string> {
  const facts: string[] = [`APT_CONFIG=${ctx.env.APT_CONFIG ?? ''}`];
  const describe = async (path: string) => {
    const info = await stat(path).catch(() => undefined);
    facts.push(info ? `${path} ${info.size} ${info.mtimeMs}` : `${path} -`);
  };
  for (const file of APT_STATE_FILES) await describe(file);
  for (const dir of APT_STATE_DIRS) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.sort()) await describe(join(dir, name));
  }
  return sha256(facts.join('\n'));
}
