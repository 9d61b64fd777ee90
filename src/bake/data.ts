import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { KilnError, ErrorCodes } from '../errors.js';
import { sha256File } from '../util/fs.js';

/** A host file or directory tree that goes into the image as data (config, firmware, assets). */
export interface DataFileRequest {
  hostPath: string;
  /** Absolute guest path; a directory's contents go under it. */
  guestPath: string;
}

export type DataEntry =
  | { kind: 'file'; hostPath: string; guestPath: string; sha256: string; size: number; executable: boolean }
  | { kind: 'dir'; guestPath: string }
  | { kind: 'symlink'; guestPath: string; target: string };

/**
 * Reads data files and trees from disk into a flat, sorted list. Symlinks are kept as links
 * (never followed), and only when they stay inside the guest tree they came with: a link that
 * climbs out of it would point at whatever the guest happens to have there.
 */
export async function gatherDataFiles(requests: DataFileRequest[]): Promise<DataEntry[]> {
  const entries = new Map<string, DataEntry>();
  for (const request of requests) {
    const guestRoot = normaliseGuestPath(request.guestPath);
    await walk(resolve(request.hostPath), guestRoot, guestRoot, entries);
  }
  return [...entries.values()].sort((a, b) => (a.guestPath < b.guestPath ? -1 : a.guestPath > b.guestPath ? 1 : 0));
}

async function walk(hostPath: string, guestPath: string, guestRoot: string, out: Map<string, DataEntry>): Promise<void> {
  const info = await lstat(hostPath).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.DATA_FILE_INVALID, `data file ${hostPath} does not exist`, { cause: error, hint: 'check the --file SRC:DEST source path' });
  });
  if (info.isSymbolicLink()) {
    const target = await readlink(hostPath);
    const landsAt = posix.resolve(posix.dirname(guestPath), target);
    if (!posix.isAbsolute(target) ? !isWithin(landsAt, guestRoot) : !isWithin(target, guestRoot)) {
      throw new KilnError(ErrorCodes.DATA_FILE_INVALID, `data symlink ${hostPath} -> ${target} points outside ${guestRoot}`, {
        hint: 'replace the link by the file it points to, or add the target directory as data too',
      });
    }
    out.set(guestPath, { kind: 'symlink', guestPath, target });
  } else if (info.isDirectory()) {
    out.set(guestPath, { kind: 'dir', guestPath });
    for (const name of (await readdir(hostPath)).sort()) await walk(join(hostPath, name), posix.join(guestPath, name), guestRoot, out);
  } else if (info.isFile()) {
    out.set(guestPath, { kind: 'file', hostPath, guestPath, sha256: await sha256File(hostPath), size: info.size, executable: (info.mode & 0o111) !== 0 });
  } else {
    throw new KilnError(ErrorCodes.DATA_FILE_INVALID, `data file ${hostPath} is not a regular file, directory or symlink`, { hint: 'devices, sockets and fifos cannot go into an image' });
  }
}

function normaliseGuestPath(path: string): string {
  if (!posix.isAbsolute(path)) {
    throw new KilnError(ErrorCodes.DATA_FILE_INVALID, `guest path ${path} is not absolute`, { hint: 'write it as /etc/app.conf' });
  }
  const normal = posix.normalize(path);
  if (normal === '/' || normal.startsWith('/kiln/') || normal === '/kiln') {
    throw new KilnError(ErrorCodes.DATA_FILE_INVALID, `guest path ${path} is reserved`, { hint: 'put data under a directory such as /etc, /usr/share or /srv' });
  }
  return normal.replace(/\/$/, '');
}

function isWithin(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

/** Parses the CLI form SRC:DEST (DEST absolute). */
export function parseDataFileFlag(flag: string): DataFileRequest {
  const at = flag.lastIndexOf(':/');
  if (at <= 0) throw new KilnError(ErrorCodes.USAGE, `--file ${flag}: expected SRC:/GUEST/PATH`, { hint: 'e.g. --file ./nginx.conf:/etc/nginx/nginx.conf' });
  return { hostPath: flag.slice(0, at), guestPath: flag.slice(at + 1) };
}
