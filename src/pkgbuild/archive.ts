import { once } from 'node:events';
import { linkTargetEscape } from '../util/link-target.js';
import { pipeline } from 'node:stream/promises';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { t as listTar, x as extractTar } from 'tar';
import { KilnError, ErrorCodes } from '../errors.js';
import { toolMissing } from '../util/exec.js';

/**
 * Unpacking a source archive safely. Every entry is listed and checked BEFORE anything is
 * written: a path with '..' or an absolute path, a symlink or hardlink whose target lands
 * outside the tree, an entry reached through a symlink, or a device file / fifo refuses the
 * whole archive (KILN_ARCHIVE_UNSAFE naming each bad entry). Only then is it extracted, with
 * node-tar's own protections on as well (no absolute paths, no owners from the archive).
 */

export type ArchiveKind = 'tar' | 'tar.gz' | 'tar.xz' | 'tar.bz2' | 'tar.zst';

/** Recognises an archive by its first bytes (cached sources are named by hash, not by name). */
export async function sniffArchive(file: string): Promise<ArchiveKind | undefined> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, 512, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
    if (bytesRead >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'tar.xz';
    if (bytesRead >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'tar.bz2';
    if (bytesRead >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'tar.zst';
    if (bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    return undefined;
  } finally {
    await handle.close();
  }
}

const DECOMPRESSORS: Partial<Record<ArchiveKind, [string, string]>> = { 'tar.xz': ['xz', 'xz-utils'], 'tar.bz2': ['bzip2', 'bzip2'], 'tar.zst': ['zstd', 'zstd'] };

/** node-tar reads plain and gzip'ed tar; other compressions go through the host's tool first. */
async function asReadableTar(file: string, kind: ArchiveKind, scratch: string): Promise<string> {
  const tool = DECOMPRESSORS[kind];
  if (!tool) return file;
  await mkdir(scratch, { recursive: true });
  const out = join(scratch, 'decompressed.tar');
  const child = spawn(tool[0], ['-dc', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Both must finish: the output fully written (or failed) and the tool exited with its code.
  const exited = once(child, 'exit').catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? toolMissing(tool[0], error) : error;
  });
  const [, [code]] = await Promise.all([pipeline(child.stdout, createWriteStream(out)), exited]);
  if (code !== 0) throw new KilnError(ErrorCodes.SOURCE_FETCH_FAILED, `${tool[0]} could not decompress ${file}`, { details: [stderr.trim()] });
  return out;
}

function segments(path: string): string[] {
  return path.split('/').filter((s) => s !== '' && s !== '.');
}

/** Why one entry is unsafe, or undefined. `seenLinks` holds the (stripped) paths of symlinks so far. */
export function entryProblem(entry: { path: string; type: string; linkpath?: string }, strip: number, seenLinks: Set<string>): string | undefined {
  const { path, type } = entry;
  if (type === 'CharacterDevice' || type === 'BlockDevice') return 'is a device file';
  if (type === 'FIFO') return 'is a fifo';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'has an absolute path';
  if (path.split(/[/\\]/).includes('..')) return "has '..' in its path";
  const parts = segments(path).slice(strip);
  if (parts.length === 0) return undefined; // stripped away, never written
  const stripped = parts.join('/');
  for (let i = 1; i < parts.length; i += 1) {
    const parent = parts.slice(0, i).join('/');
    if (seenLinks.has(parent)) return `is reached through the symlink ${parent}`;
  }
  const target = entry.linkpath ?? '';
  if (type === 'SymbolicLink') {
    if (target.startsWith('/')) return `is a symlink to the absolute path ${target}`;
    const escape = linkTargetEscape(stripped, target, seenLinks);
    if (escape === 'outside') return `is a symlink to ${target}, outside the tree`;
    if (escape === 'through-link') return `is a symlink to ${target}, which climbs back through another symlink`;
    seenLinks.add(stripped);
  }
  if (type === 'Link') {
    if (target.startsWith('/') || target.split('/').includes('..')) return `is a hardlink to ${target}, outside the tree`;
    if (segments(target).length <= strip) return `is a hardlink to ${target}, outside the tree`;
  }
  return undefined;
}

/** Lists the archive and throws KILN_ARCHIVE_UNSAFE (listing every bad entry) if anything is unsafe. */
export async function checkArchive(file: string, options: { strip?: number; label?: string; scratch: string }): Promise<{ kind: ArchiveKind; entries: number; tarFile: string }> {
  const kind = await sniffArchive(file);
  if (!kind) throw new KilnError(ErrorCodes.SOURCE_FETCH_FAILED, `${options.label ?? file} is not a tar archive (plain, gzip, xz, bzip2 or zstd)`, { hint: 'set extract = false for a source that is a plain file' });
  const tarFile = await asReadableTar(file, kind, options.scratch);
  const strip = options.strip ?? 1;
  const problems: string[] = [];
  const seenLinks = new Set<string>();
  let entries = 0;
  await listTar({
    file: tarFile,
    strict: true,
    onReadEntry: (entry) => {
      entries += 1;
      const problem = entryProblem({ path: entry.path, type: entry.type, ...(entry.linkpath ? { linkpath: entry.linkpath } : {}) }, strip, seenLinks);
      if (problem) problems.push(`${entry.path} ${problem}`);
    },
  }).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.SOURCE_FETCH_FAILED, `${options.label ?? file} is not a readable tar archive`, { cause: error, details: [String((error as Error).message)] });
  });
  if (problems.length > 0) {
    throw new KilnError(ErrorCodes.ARCHIVE_UNSAFE, `${options.label ?? file} has ${problems.length} unsafe ${problems.length === 1 ? 'entry' : 'entries'}; nothing was extracted`, {
      details: problems.slice(0, 20),
      hint: 'an archive may only create files inside its own tree; use a trusted source',
    });
  }
  return { kind, entries, tarFile };
}

/** Checks, then extracts into `dest` (created), dropping `strip` leading path components. */
export async function extractArchive(file: string, dest: string, options: { strip?: number; label?: string; scratch: string }): Promise<void> {
  const { tarFile } = await checkArchive(file, options);
  await mkdir(dest, { recursive: true });
  try {
    await extractTar({ file: tarFile, cwd: dest, strip: options.strip ?? 1, preserveOwner: false, preservePaths: false, strict: true });
  } finally {
    if (tarFile !== file) await rm(tarFile, { force: true });
  }
}
