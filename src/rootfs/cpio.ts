import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, posix } from 'node:path';
import { KilnError, ErrorCodes } from '../errors.js';

/**
 * A deterministic writer for the newc ("070701") cpio format, the one the Linux kernel unpacks
 * as an initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
 *
 * The same entries give the same bytes, whatever their order and wherever the sources live:
 * entries are sorted bytewise by path, inode numbers count from 1 in that order, owners are
 * root, every mtime is one fixed value, and names carry no leading '/'. Every archive is a
 * multiple of 4 bytes long, so archives can be concatenated: the kernel unpacks each in turn
 * into the same root, later files replacing earlier ones (kiln appends a small per-launch
 * config archive to an image's initramfs this way).
 */

export interface CpioEntry {
  /** Absolute guest path, e.g. '/kiln/init'. */
  path: string;
  kind: 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev';
  /** Permission bits (0o7777 at most); the file type comes from `kind`. */
  mode: number;
  source?: { file: string } | { data: Buffer };
  /** Symlink target, stored as written. */
  target?: string;
  rdevMajor?: number;
  rdevMinor?: number;
}

export interface CpioOptions {
  /** The mtime of every entry, in seconds since the epoch (e.g. SOURCE_DATE_EPOCH). Default 0. */
  mtime?: number;
}

export interface CpioResult {
  bytes: number;
  sha256: string;
}

const TYPE_BITS: Record<CpioEntry['kind'], number> = { file: 0o100000, dir: 0o040000, symlink: 0o120000, chardev: 0o020000, blockdev: 0o060000 };
const PATH_MAX = 4096;
const CHUNK = 1 << 20;

/** One archive member, ready to encode; `file` data is streamed at write time. */
interface Member {
  name: string;
  ino: number;
  mode: number;
  nlink: number;
  size: number;
  rdevMajor: number;
  rdevMinor: number;
  data?: Buffer;
  file?: string;
}

/** Writes the archive to `outPath` through a temporary file, streaming file contents. */
export async function writeCpio(entries: CpioEntry[], outPath: string, options: CpioOptions = {}): Promise<CpioResult> {
  const sizes = new Map<string, number>();
  for (const entry of entries) {
    if (entry.source && 'file' in entry.source) sizes.set(entry.source.file, await sourceSize(entry));
  }
  const members = prepare(entries, (file) => sizes.get(file)!);
  await mkdir(dirname(outPath), { recursive: true });
  const tmp = `${outPath}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(tmp, 'w', 0o644);
  try {
    const sink = new Sink(handle);
    for (const member of members) {
      await sink.write(encodeHeader(member, options));
      if (member.file !== undefined) await copyExactly(member.file, member.size, sink);
      else if (member.data) await sink.write(member.data);
      await sink.write(padding(member.size));
    }
    await sink.write(encodeTrailer(options));
    await sink.flush();
    await handle.sync();
    await handle.close();
    await rename(tmp, outPath);
    return { bytes: sink.bytes, sha256: sink.hash.digest('hex') };
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(tmp, { force: true });
    throw error;
  }
}

/** A whole archive in memory, for small archives of in-memory data (e.g. per-launch config). */
export function cpioBuffer(entries: CpioEntry[], options: CpioOptions = {}): Buffer {
  const members = prepare(entries, (file) => {
    throw new KilnError(ErrorCodes.ROOTFS_INVALID, `cpioBuffer takes in-memory data only, not the file ${file}`, { hint: 'use writeCpio for archives of files' });
  });
  const parts: Buffer[] = [];
  for (const member of members) parts.push(encodeHeader(member, options), member.data ?? Buffer.alloc(0), padding(member.size));
  parts.push(encodeTrailer(options));
  return Buffer.concat(parts);
}

/** Validates entries, adds missing parent directories, sorts and numbers them. */
function prepare(entries: CpioEntry[], fileSize: (file: string) => number): Member[] {
  const byPath = new Map<string, CpioEntry>();
  for (const entry of entries) {
    checkEntry(entry);
    if (byPath.has(entry.path)) invalid(`${entry.path} is in the file list twice`);
    byPath.set(entry.path, entry);
  }
  for (const entry of entries) {
    for (let parent = posix.dirname(entry.path); parent !== '/'; parent = posix.dirname(parent)) {
      const existing = byPath.get(parent);
      if (!existing) byPath.set(parent, { path: parent, kind: 'dir', mode: 0o755 });
      else if (existing.kind !== 'dir') {
        invalid(`${entry.path} cannot be stored: its parent ${parent} is a ${existing.kind}${existing.target ? ` (-> ${existing.target})` : ''}, not a directory`);
      }
    }
  }
  const sorted = [...byPath.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return sorted.map((entry, index) => {
    const source = entry.source;
    const data = entry.kind === 'symlink' ? Buffer.from(entry.target!) : source && 'data' in source ? source.data : undefined;
    const file = source && 'file' in source ? source.file : undefined;
    return {
      name: entry.path.slice(1),
      ino: index + 1,
      mode: TYPE_BITS[entry.kind] | entry.mode,
      nlink: entry.kind === 'dir' ? 2 : 1,
      size: file !== undefined ? fileSize(file) : (data?.length ?? 0),
      rdevMajor: entry.rdevMajor ?? 0,
      rdevMinor: entry.rdevMinor ?? 0,
      ...(data ? { data } : {}),
      ...(file !== undefined ? { file } : {}),
    };
  });
}

function checkEntry(entry: CpioEntry): void {
  const { path } = entry;
  const parts = path.split('/').slice(1);
  if (!path.startsWith('/') || path === '/' || parts.some((p) => p === '' || p === '.' || p === '..') || path.includes('\0')) {
    invalid(`${JSON.stringify(path)} is not a valid guest path`, 'guest paths are absolute and normalised: no "..", ".", "//" or trailing "/"');
  }
  if (Buffer.byteLength(path) >= PATH_MAX) invalid(`${path.slice(0, 60)}... is longer than the kernel's PATH_MAX`);
  if (!Number.isInteger(entry.mode) || entry.mode < 0 || entry.mode > 0o7777) invalid(`${path}: mode ${entry.mode} is not a permission value (0 to 0o7777)`);
  const hasSource = entry.source !== undefined;
  if (entry.kind === 'file' && !hasSource) invalid(`${path}: a file entry needs a source`);
  if (entry.kind !== 'file' && hasSource) invalid(`${path}: only file entries take a source`);
  if (entry.kind === 'symlink' && !entry.target) invalid(`${path}: a symlink entry needs a target`);
  if (entry.target?.includes('\0')) invalid(`${path}: the symlink target contains a NUL byte`);
  const isDevice = entry.kind === 'chardev' || entry.kind === 'blockdev';
  if (isDevice && (!Number.isInteger(entry.rdevMajor) || !Number.isInteger(entry.rdevMinor))) invalid(`${path}: a device entry needs rdevMajor and rdevMinor`);
}

function invalid(message: string, hint?: string): never {
  throw new KilnError(ErrorCodes.ROOTFS_INVALID, message, hint ? { hint } : {});
}

async function sourceSize(entry: CpioEntry): Promise<number> {
  const file = (entry.source as { file: string }).file;
  const info = await stat(file).catch((cause: unknown) => {
    throw new KilnError(ErrorCodes.ROOTFS_INVALID, `${file} (for ${entry.path}) cannot be read`, { cause });
  });
  if (!info.isFile()) invalid(`${file} (for ${entry.path}) is not a regular file`);
  return info.size;
}

function encodeHeader(m: Member, options: CpioOptions): Buffer {
  const name = Buffer.from(`${m.name}\0`);
  const mtime = options.mtime ?? 0;
  const fields = [m.ino, m.mode, 0, 0, m.nlink, mtime, m.size, 0, 0, m.rdevMajor, m.rdevMinor, name.length, 0];
  const text = fields.map((value) => {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) invalid(`/${m.name}: value ${value} does not fit a newc header field (files must be under 4 GiB)`);
    return value.toString(16).toUpperCase().padStart(8, '0');
  });
  return Buffer.concat([Buffer.from(`070701${text.join('')}`, 'ascii'), name, padding(110 + name.length)]);
}

function encodeTrailer(options: CpioOptions): Buffer {
  return encodeHeader({ name: 'TRAILER!!!', ino: 0, mode: 0, nlink: 1, size: 0, rdevMajor: 0, rdevMinor: 0 }, options);
}

/** newc aligns the data after each header+name, and the next header, to 4 bytes. */
function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

async function copyExactly(file: string, size: number, sink: Sink): Promise<void> {
  if (size === 0) return;
  let copied = 0;
  for await (const chunk of createReadStream(file, { start: 0, end: size - 1, highWaterMark: CHUNK })) {
    copied += (chunk as Buffer).length;
    await sink.write(chunk as Buffer);
  }
  if (copied !== size) invalid(`${file} shrank from ${size} to ${copied} bytes while it was being archived`);
}

/** Buffers small writes into ~1 MiB ones and hashes everything written. */
class Sink {
  readonly hash = createHash('sha256');
  bytes = 0;
  private chunks: Buffer[] = [];
  private pending = 0;

  constructor(private readonly handle: FileHandle) {}

  async write(buf: Buffer): Promise<void> {
    if (buf.length === 0) return;
    this.hash.update(buf);
    this.bytes += buf.length;
    this.chunks.push(buf);
    this.pending += buf.length;
    if (this.pending >= CHUNK) await this.flush();
  }

  async flush(): Promise<void> {
    let buf = Buffer.concat(this.chunks);
    this.chunks = [];
    this.pending = 0;
    while (buf.length > 0) {
      const { bytesWritten } = await this.handle.write(buf);
      buf = buf.subarray(bytesWritten);
    }
  }
}
