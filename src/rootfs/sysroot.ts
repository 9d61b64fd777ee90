import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';

/**
 * Looking at a system tree (the host's `/`, or an unpacked root filesystem) the way a program
 * running inside it would: absolute symlinks point inside the tree, not at the host.
 */

/** A directory symlink the guest tree must reproduce, e.g. { path: '/lib', target: 'usr/lib' }. */
export interface GuestSymlink {
  path: string;
  target: string;
}

export interface RootPath {
  /** The path with every symlink resolved (the last component only when asked). */
  path: string;
  /** Symlinks crossed on the way, at their resolved location; the last component's own link is not listed. */
  links: GuestSymlink[];
  /** False when a component it looked at does not exist (the rest was then kept as written). */
  exists: boolean;
}

const MAX_SYMLINKS = 40; // Linux's own limit

/**
 * Resolves `path` inside `root`, like the kernel would after chroot(root): `..` is taken
 * after symlinks are followed, absolute link targets restart at `root`.
 */
export async function resolveInRoot(root: string, path: string, followLast: boolean): Promise<RootPath> {
  const queue = path.split('/');
  const resolved: string[] = [];
  const links: GuestSymlink[] = [];
  let hops = 0;
  let exists = true;
  while (queue.length > 0) {
    const part = queue.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const isLast = queue.every((p) => p === '' || p === '.');
    const here = '/' + [...resolved, part].join('/');
    let stat;
    if (exists && (followLast || !isLast)) {
      stat = await lstat(join(root, here)).catch(() => undefined);
      exists = stat !== undefined;
    }
    if (!stat?.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++hops > MAX_SYMLINKS) throw new Error(`too many levels of symbolic links resolving ${path} in ${root}`);
    const target = await readlink(join(root, here));
    if (!isLast) links.push({ path: here, target });
    if (target.startsWith('/')) resolved.length = 0;
    queue.unshift(...target.split('/'));
  }
  return { path: '/' + resolved.join('/'), links, exists };
}

/**
 * Top-level directory links of a merged-/usr system (Debian 12: /bin, /sbin, /lib, /lib64 →
 * usr/...) present in `sysroot`, sorted. A guest tree that has them can hold each file once,
 * under /usr, and still serve every path the host's programs use.
 */
export async function hostMergedUsrLinks(sysroot = '/'): Promise<GuestSymlink[]> {
  const out: GuestSymlink[] = [];
  for (const name of ['bin', 'lib', 'lib32', 'lib64', 'libx32', 'sbin']) {
    const stat = await lstat(join(sysroot, name)).catch(() => undefined);
    if (!stat?.isSymbolicLink()) continue;
    const target = await readlink(join(sysroot, name));
    if (posix.normalize(target).replace(/^\//, '').startsWith('usr/')) out.push({ path: `/${name}`, target });
  }
  return out;
}

/** Reads a text file inside the tree, or undefined when it does not exist. */
export async function readTextInRoot(root: string, path: string): Promise<string | undefined> {
  const real = await resolveInRoot(root, path, true);
  return readFile(join(root, real.path), 'utf8').catch(() => undefined);
}

/**
 * The directories listed by /etc/ld.so.conf and its `include` files, in order: what ldconfig
 * would scan to build ld.so.cache. Comments and `hwcap` lines are skipped.
 */
export async function readLdSoConf(root: string, file = '/etc/ld.so.conf', seen = new Set<string>()): Promise<string[]> {
  if (seen.has(file)) return [];
  seen.add(file);
  const text = await readTextInRoot(root, file);
  if (text === undefined) return [];
  const dirs: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '' || line.startsWith('hwcap ')) continue;
    const include = /^include\s+(.+)$/.exec(line);
    if (include) {
      for (const pattern of include[1]!.split(/\s+/)) {
        const absolute = pattern.startsWith('/') ? pattern : posix.join(posix.dirname(file), pattern);
        for (const f of await globInRoot(root, absolute)) dirs.push(...(await readLdSoConf(root, f, seen)));
      }
      continue;
    }
    // Old syntax allowed several directories per line and a "=libtype" suffix.
    for (const dir of line.split(/[\s:,]+/)) if (dir.startsWith('/')) dirs.push(dir.replace(/=.*$/, ''));
  }
  return dirs;
}

/** Expands a glob whose wildcards (`*`, `?`) are in the last component only, sorted like the shell does. */
async function globInRoot(root: string, pattern: string): Promise<string[]> {
  const dir = posix.dirname(pattern);
  const base = posix.basename(pattern);
  if (!/[*?]/.test(base)) return [pattern];
  const regex = new RegExp('^' + base.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  const real = await resolveInRoot(root, dir, true);
  const names = await readdir(join(root, real.path)).catch(() => [] as string[]);
  return names.filter((n) => regex.test(n) && !n.startsWith('.')).sort().map((n) => posix.join(dir, n));
}

/**
 * musl's library path: the file /etc/ld-musl-ARCH.path (next to the loader's prefix), one or
 * more directories separated by newlines or colons; musl's built-in list when absent.
 */
export async function readMuslPath(root: string, interpreter: string, arch: string): Promise<{ dirs: string[]; fromFile: boolean }> {
  // musl takes the prefix as the loader's path minus its last two components: /lib/ld-musl-x86_64.so.1 → ''.
  const prefix = posix.dirname(posix.dirname(interpreter)).replace(/^\/$/, '');
  const text = await readTextInRoot(root, `${prefix}/etc/ld-musl-${arch}.path`);
  if (text === undefined) return { dirs: ['/lib', '/usr/local/lib', '/usr/lib'], fromFile: false };
  return { dirs: text.split(/[\n:]/).map((d) => d.trim()).filter((d) => d.length > 0), fromFile: true };
}
