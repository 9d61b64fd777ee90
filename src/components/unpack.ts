import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { run } from '../util/exec.js';
import { KERNEL_CONFIG_FILE, KERNEL_IMAGE_FILE } from './cache.js';
import { exists } from '../util/fs.js';

/**
 * Turns a kernel .deb into the layout of a cache entry (see cache.ts) inside `entryDir`.
 * `dpkg-deb -x` only unpacks the archive: no maintainer scripts run, nothing is registered
 * with dpkg and /boot is never touched. Everything the entry does not need (System.map,
 * docs, modules.order) is dropped.
 */
export async function unpackKernelDeb(ctx: Context, debPath: string, entryDir: string): Promise<{ release: string }> {
  const root = join(entryDir, '.deb-root');
  await mkdir(entryDir, { recursive: true });
  await run('dpkg-deb', ['-x', '--', debPath, root], { env: ctx.env, ...(ctx.signal ? { signal: ctx.signal } : {}) });

  const boot = join(root, 'boot');
  const images = (await readdir(boot).catch(() => [] as string[])).filter((name) => name.startsWith('vmlinuz-'));
  if (images.length !== 1) {
    throw new KilnError(ErrorCodes.KERNEL_INVALID, `${debPath} is not a kernel package: expected one /boot/vmlinuz-*, found ${images.length}`);
  }
  const release = images[0]!.slice('vmlinuz-'.length);

  // Debian 12 ships /lib/modules; merged-/usr releases ship /usr/lib/modules.
  const modulesFrom = await firstExisting([join(root, 'lib/modules', release), join(root, 'usr/lib/modules', release)]);
  await rename(join(boot, images[0]!), join(entryDir, KERNEL_IMAGE_FILE));
  const config = join(boot, `config-${release}`);
  if (await exists(config)) await rename(config, join(entryDir, KERNEL_CONFIG_FILE));
  if (modulesFrom) {
    const modulesTo = join(entryDir, 'lib/modules', release);
    await mkdir(modulesTo, { recursive: true });
    for (const name of await readdir(modulesFrom)) {
      if (name === 'kernel' || name.startsWith('modules.builtin')) await rename(join(modulesFrom, name), join(modulesTo, name));
    }
  }
  await rm(root, { recursive: true, force: true });
  return { release };
}


async function firstExisting(paths: string[]): Promise<string | undefined> {
  for (const path of paths) if (await exists(path)) return path;
  return undefined;
}
