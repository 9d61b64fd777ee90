import { linkTargetEscape } from '../util/link-target.js';
import { spawn } from 'node:child_process';
import { posix } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { KilnError, ErrorCodes } from '../errors.js';
import { run } from '../util/exec.js';

/**
 * Looking inside a .deb before anything of it is written: its data member is listed (through
 * `dpkg-deb --fsys-tarfile`, read by node-tar) and checked; only then does `dpkg-deb -x`
 * unpack it. The .deb's sha256 was checked before, so the bytes listed are the bytes unpacked.
 */

export interface DebEntry {
  /** Path inside the package, normalised, without the leading "./" ("usr/bin/lua5.4"); "" for the top directory. */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  /** For links: the target as written in the archive. */
  linkpath?: string;
  /** The raw name, for error messages. */
  raw: string;
}

export async function listDeb(debPath: string): Promise<DebEntry[]> {
  const entries: DebEntry[] = [];
  const parser = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      entries.push(toEntry(entry));
      entry.resume();
    },
  });
  const child = spawn('dpkg-deb', ['--fsys-tarfile', debPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('end', () => resolve());
    parser.on('error', reject);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new KilnError(ErrorCodes.ARCHIVE_UNSAFE, `${posix.basename(debPath)} is not a readable Debian package`, { details: [stderr.trim()] })),
    );
  });
  child.stdout.pipe(parser);
  await Promise.all([exited, parsed]);
  return entries;
}

function toEntry(entry: ReadEntry): DebEntry {
  const raw = entry.path;
  const path = raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  const type =
    entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile'
      ? 'file'
      : entry.type === 'Directory'
        ? 'dir'
        : entry.type === 'SymbolicLink'
          ? 'symlink'
          : entry.type === 'Link'
            ? 'hardlink'
            : 'other';
  return { path: path === '.' ? '' : path, type, raw, ...(entry.linkpath ? { linkpath: entry.linkpath } : {}) };
}

/**
 * Problems that make a package unsafe to unpack into a staging root:
 * - a name that is absolute or has a ".." component (it would land outside the root);
 * - a relative symlink whose target climbs above the root. Absolute targets are allowed:
 *   the staging root is a guest tree, read only through resolveInRoot, which takes them
 *   inside the root (as the guest's kernel will);
 * - a hard link to an absolute or ".." name;
 * - an entry below a symlink of any package of the set (unpacking would write through the link);
 * - devices, fifos and other special files (a guest tree has no use for them).
 * Returns one line per problem, "package: entry: why".
 */
export function unsafeEntries(packages: { name: string; entries: DebEntry[] }[]): string[] {
  const problems: string[] = [];
  const symlinks = new Set<string>();
  for (const p of packages) for (const e of p.entries) if (e.type === 'symlink') symlinks.add(e.path);
  for (const p of packages) {
    for (const e of p.entries) {
      const why = entryProblem(e, symlinks);
      if (why) problems.push(`${p.name}: ${e.raw}${e.linkpath !== undefined ? ` -> ${e.linkpath}` : ''}: ${why}`);
    }
  }
  return problems;
}

function entryProblem(e: DebEntry, symlinks: Set<string>): string | undefined {
  if (e.raw.startsWith('/') || e.path.startsWith('/')) return 'absolute path';
  if (e.path.split('/').includes('..')) return 'path climbs out with ..';
  if (e.type === 'other') return 'special file (device, fifo or unknown type)';
  if (e.type === 'symlink') {
    const target = e.linkpath ?? '';
    if (target === '') return 'symlink without a target';
    const escape = target.startsWith('/') ? undefined : linkTargetEscape(e.path, target, symlinks);
    if (escape === 'outside') return 'symlink points outside the package root';
    if (escape === 'through-link') return 'symlink climbs back through another symlink';
  }
  if (e.type === 'hardlink') {
    const target = (e.linkpath ?? '').replace(/^(\.\/)+/, '');
    if (target.startsWith('/') || target.split('/').includes('..') || target === '') return 'hard link outside the package root';
  }
  const parts = e.path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const ancestor = parts.slice(0, i).join('/');
    if (symlinks.has(ancestor)) return `lies below the symlink ${ancestor}`;
  }
  return undefined;
}

export function assertSafe(packages: { name: string; entries: DebEntry[] }[]): void {
  const problems = unsafeEntries(packages);
  if (problems.length > 0) {
    throw new KilnError(ErrorCodes.ARCHIVE_UNSAFE, `refusing to unpack ${problems.length === 1 ? 'a Debian package entry' : `${problems.length} Debian package entries`} that would escape the staging root`, {
      hint: 'nothing was unpacked; the package is malformed or hostile, do not use it',
      details: problems.slice(0, 20),
    });
  }
}

export async function unpackDeb(debPath: string, root: string): Promise<void> {
  await run('dpkg-deb', ['-x', debPath, root]);
}

/** Control fields of a .deb (Depends, Pre-Depends, Provides ...), from its control member. */
export async function debFields(debPath: string, fields: string[]): Promise<string> {
  return (await run('dpkg-deb', ['--field', debPath, ...fields])).stdout;
}
