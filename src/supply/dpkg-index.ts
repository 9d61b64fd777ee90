import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256, writeFileAtomically } from '../util/fs.js';

/**
 * Which installed Debian package ships a path, over every installed package: dpkg's file
 * lists (/var/lib/dpkg/info/*.list, ~800 files and ~120k paths) read once and remembered in
 * the kiln cache, because reading them costs most of a second on each bake of a dynamic app.
 *
 * The memo is text looked up in place by binary search: one line per directory, sorted by
 * directory, "DIR (TAB NAME NUL PACKAGE)*". A JSON map or a rebuilt Map<path, package> costs as
 * much to load as reading dpkg's lists again (measured: ~400 ms against ~250 ms); grouping by
 * directory makes the text ~4 MB instead of ~9 MB of whole paths, read in tens of milliseconds.
 *
 * It is keyed by a fingerprint of dpkg's database: the size and mtime of the status file
 * (rewritten on every install, removal and upgrade), the mtime of the info directory (dpkg
 * renames new .list files into it) and the number of .list files. Any dpkg run changes the
 * key, and the next bake reads the lists again.
 */

export interface OwnerIndex {
  /** The package (without ":arch") whose file list names exactly `path`, if any. */
  owner(path: string): string | undefined;
}

export interface DpkgIndexOptions {
  /** kiln's cache directory; without it the index is only kept in this process. */
  cacheDir?: string;
  /** For tests: another dpkg database. */
  infoDir?: string;
  statusFile?: string;
}

const DPKG_INFO = '/var/lib/dpkg/info';
const DPKG_STATUS = '/var/lib/dpkg/status';
/** Bump when the memo's layout changes, so old memos are never read as new ones. */
const MEMO_FORMAT = 'kiln-dpkg-owners 2';
const MEMO_DIR = 'dpkg-owners';

/** In this process: the index of the last database state seen, by its cheap facts (two stats). */
let current: { key: string; index: Promise<OwnerIndex> } | undefined;

export async function dpkgOwnerIndex(options: DpkgIndexOptions = {}): Promise<OwnerIndex> {
  const infoDir = options.infoDir ?? DPKG_INFO;
  const statusFile = options.statusFile ?? DPKG_STATUS;
  const key = [options.cacheDir ?? '', infoDir, statusFile, ...(await statFacts(infoDir, statusFile))].join('\n');
  if (current?.key !== key) {
    const index = loadOrBuild(infoDir, statusFile, options.cacheDir);
    current = { key, index };
    // A failed load must not stay remembered; the next call tries again.
    index.catch(() => {
      if (current?.index === index) current = undefined;
    });
  }
  return current.index;
}

async function statFacts(infoDir: string, statusFile: string): Promise<string[]> {
  const [status, info] = await Promise.all([stat(statusFile).catch(() => undefined), stat(infoDir).catch(() => undefined)]);
  return [status ? `status ${status.size} ${status.mtimeMs}` : 'status -', info ? `info ${info.mtimeMs}` : 'info -'];
}

/** The memo's key: the cheap facts plus how many .list files there are, and the memo format. */
export async function dpkgFingerprint(infoDir = DPKG_INFO, statusFile = DPKG_STATUS): Promise<{ fingerprint: string; lists: string[] }> {
  const lists = (await readdir(infoDir).catch(() => [] as string[])).filter((name) => name.endsWith('.list')).sort();
  const facts = [MEMO_FORMAT, infoDir, statusFile, ...(await statFacts(infoDir, statusFile)), `lists ${lists.length}`];
  return { fingerprint: sha256(facts.join('\n')), lists };
}

async function loadOrBuild(infoDir: string, statusFile: string, cacheDir: string | undefined): Promise<OwnerIndex> {
  const { fingerprint, lists } = await dpkgFingerprint(infoDir, statusFile);
  const memoPath = cacheDir ? join(cacheDir, MEMO_DIR, `${fingerprint}.tsv`) : undefined;
  const header = `${MEMO_FORMAT} ${fingerprint}\n`;
  if (memoPath) {
    const text = await readFile(memoPath, 'utf8').catch(() => undefined);
    // Written atomically, so a file that is there is whole; the header guards against another layout.
    if (text?.startsWith(header) && text.endsWith('\n')) return memoIndex(text, header.length);
  }
  const text = header + memoText(await readLists(infoDir, lists));
  if (memoPath) {
    await writeFileAtomically(memoPath, text);
    await pruneOtherMemos(join(cacheDir!, MEMO_DIR), `${fingerprint}.tsv`);
  }
  return memoIndex(text, header.length);
}

/** path -> package over all lists; the first list (by file name) that names a path owns it. */
async function readLists(infoDir: string, lists: string[]): Promise<Map<string, string>> {
  const texts = await Promise.all(lists.map((name) => readFile(join(infoDir, name), 'utf8').catch(() => '')));
  const owners = new Map<string, string>();
  lists.forEach((name, i) => {
    const pkg = name.slice(0, -'.list'.length).split(':')[0]!;
    for (const line of texts[i]!.split('\n')) if (line && !owners.has(line)) owners.set(line, pkg);
  });
  return owners;
}

/**
 * The memo's body: a line per directory, sorted (UTF-16 order, as memoIndex compares), then
 * TAB NAME NUL PACKAGE per file. A path with a tab in it would break the lines, so it is left
 * out (never found); a NUL cannot be in a path.
 */
export function memoText(owners: Iterable<[string, string]>): string {
  const byDir = new Map<string, string[]>();
  for (const [path, pkg] of owners) {
    const slash = path.lastIndexOf('/');
    if (slash < 0 || path.includes('\t')) continue;
    const dir = path.slice(0, slash);
    const entries = byDir.get(dir) ?? [];
    entries.push(`\t${path.slice(slash + 1)}\0${pkg}`);
    byDir.set(dir, entries);
  }
  const dirs = [...byDir.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return dirs.map((dir) => `${dir}${byDir.get(dir)!.join('')}\n`).join('');
}

/** Older memos belong to earlier dpkg states, which do not come back; each is several MB. */
/**
 * For `kiln gc`: the memos in `<cacheDir>/dpkg-owners/` that describe no current dpkg database
 * (another fingerprint, another format, a temporary of an interrupted write). The current one
 * stays: reading 2,000 file lists again costs seconds on every bake.
 */
export async function staleDpkgMemos(cacheDir: string, infoDir = DPKG_INFO, statusFile = DPKG_STATUS): Promise<{ path: string; why: string }[]> {
  const dir = join(cacheDir, MEMO_DIR);
  const keep = `${(await dpkgFingerprint(infoDir, statusFile)).fingerprint}.tsv`;
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  return names.filter((name) => name !== keep).map((name) => ({ path: join(dir, name), why: "dpkg owner index of a dpkg database that is no longer the host's" }));
}

async function pruneOtherMemos(dir: string, keep: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((name) => name !== keep && name.endsWith('.tsv')).map((name) => rm(join(dir, name), { force: true }).catch(() => undefined)));
}

/**
 * Binary search over the lines of `text` from offset `start` by their directory (the text
 * before the first tab); `lo` and `hi` are always line starts. Then the name within the line.
 */
export function memoIndex(text: string, start: number): OwnerIndex {
  return {
    owner(path: string): string | undefined {
      const slash = path.lastIndexOf('/');
      if (slash < 0) return undefined;
      const dir = path.slice(0, slash);
      let lo = start;
      let hi = text.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const lineStart = text.lastIndexOf('\n', mid - 1) + 1;
        const end = text.indexOf('\n', lineStart);
        const tab = text.indexOf('\t', lineStart);
        const lineDir = text.slice(lineStart, tab);
        if (lineDir === dir) {
          const needle = `\t${path.slice(slash + 1)}\0`;
          const at = text.indexOf(needle, tab);
          if (at < 0 || at > end) return undefined;
          const pkgStart = at + needle.length;
          const next = text.indexOf('\t', pkgStart);
          return text.slice(pkgStart, next >= 0 && next < end ? next : end);
        }
        if (lineDir < dir) lo = end + 1;
        else hi = lineStart;
      }
      return undefined;
    },
  };
}
