import { chmod, lchown, lstat, lutimes, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256, sha256File } from '../util/fs.js';

/**
 * Walks a tree in sorted order (byte order of names), so everything computed over it (hashes,
 * file lists) is the same on every machine.
 */
export async function walkTree(root: string, visit: (rel: string, abs: string, kind: 'file' | 'dir' | 'symlink', mode: number) => Promise<void>): Promise<void> {
  async function walk(rel: string): Promise<void> {
    const abs = rel ? join(root, rel) : root;
    const names = (await readdir(abs)).sort();
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      const childAbs = join(abs, name);
      const info = await lstat(childAbs);
      if (info.isSymbolicLink()) await visit(childRel, childAbs, 'symlink', info.mode);
      else if (info.isDirectory()) {
        await visit(childRel, childAbs, 'dir', info.mode);
        await walk(childRel);
      } else if (info.isFile()) await visit(childRel, childAbs, 'file', info.mode);
      // Sockets, fifos and devices have no place in a source or install tree: skipped.
    }
  }
  await walk('');
}

/**
 * A content hash of a directory tree: paths, kinds, the executable bit, file contents and
 * symlink targets. Not mtimes or owners, so a fresh checkout of the same files hashes the same.
 */
export async function hashTree(root: string, skip: (rel: string) => boolean = () => false): Promise<{ sha256: string; files: number }> {
  const lines: string[] = [];
  let files = 0;
  await walkTree(root, async (rel, abs, kind, mode) => {
    if (skip(rel.split('/')[0]!)) return;
    if (kind === 'file') {
      files += 1;
      lines.push(`f ${mode & 0o111 ? 'x' : '-'} ${await sha256File(abs)} ${rel}`);
    } else if (kind === 'symlink') lines.push(`l ${await readlink(abs)} ${rel}`);
    else lines.push(`d ${rel}`);
  });
  return { sha256: sha256(lines.join('\n')), files };
}

/**
 * Makes an install tree reproducible: owner root, modes 0755 (directories and executables) or
 * 0644, every mtime at SOURCE_DATE_EPOCH. Two builds of the same inputs then give trees that
 * differ in nothing a tar or cpio of them would show.
 */
export async function normaliseTree(root: string, epochSeconds: number): Promise<void> {
  const when = new Date(epochSeconds * 1000);
  const dirs: string[] = [root];
  await walkTree(root, async (_rel, abs, kind, mode) => {
    await lchown(abs, 0, 0).catch(() => {});
    if (kind === 'symlink') {
      await lutimes(abs, when, when);
      return;
    }
    await chmod(abs, kind === 'dir' || mode & 0o111 ? 0o755 : 0o644);
    if (kind === 'dir') dirs.push(abs);
    else await lutimes(abs, when, when);
  });
  // Directories last, deepest first: touching a child changes nothing, but setting a directory's
  // time before its children were chmod'ed would be undone on some filesystems.
  for (const dir of dirs.reverse()) await lutimes(dir, when, when);
}
