import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes, isKilnError } from '../errors.js';
import { parseAptStanzas } from '../components/apt.js';
import { compareDebianVersions } from '../components/debian-version.js';
import { aptStateFingerprint } from '../components/apt-memo.js';
import { lastLines, run } from '../util/exec.js';
import { canonicalJson, publishDirectory, sha256, sha256File, writeFileAtomically } from '../util/fs.js';
import type { LibcSource } from './tuples.js';
import { ownedTempPrefix } from '../util/temp-owner.js';

/**
 * The C library of a cross tuple, from Debian's package for that architecture (musl-dev:arm64
 * for aarch64-kiln-linux-musl). Why downloaded and not installed: installing a foreign
 * musl-dev would put arm64 files under the host's /usr and register them with dpkg; all the
 * wrappers need is its headers, start files and libc.a, which `dpkg-deb -x` unpacks into
 * kiln's cache. apt still does the fetching, so the archive's signatures are checked, and the
 * .deb is checked again against the SHA256 apt's index gives before anything is unpacked.
 * apt knows arm64 packages once the host has the architecture in its lists
 * (`dpkg --add-architecture arm64 && apt-get update`): scripts/setup.sh does that, kiln never.
 *
 *   <cache>/libc/<sha256 of the .deb>/meta.json   LibcEntry
 *                                     root/usr/include/aarch64-linux-musl/...  root/usr/lib/...
 */
export interface LibcEntry {
  package: string;
  version: string;
  architecture: string;
  sha256: string;
  /** The unpacked package (absolute). */
  root: string;
}

const META = 'meta.json';

export function multiarchHint(dpkgArch: string): string {
  return `let apt see ${dpkgArch} packages (kiln downloads them, never installs them): dpkg --add-architecture ${dpkgArch} && apt-get update   (scripts/setup.sh does this)`;
}

/** Finds (or downloads and unpacks) the package for `source`; offline, the newest cached copy stands in. */
export async function obtainForeignLibc(ctx: Context, source: Extract<LibcSource, { kind: 'debian-download' }>): Promise<LibcEntry> {
  const spec = `${source.package}:${source.dpkgArch}`;
  let problem: KilnError | undefined;
  // apt-cache takes a second or more; its answer is remembered until apt's lists change.
  const memo = join(ctx.paths.cache, 'apt-answers', `${sha256(['libc', await aptStateFingerprint(ctx), spec].join('\n'))}.json`);
  let stanza = await readFile(memo, 'utf8').then((text) => JSON.parse(text) as Record<string, string>, () => undefined);
  if (!stanza) try {
    const result = await run('apt-cache', ['show', '--no-all-versions', '--', spec], { env: { ...ctx.env, LC_ALL: 'C' }, check: false });
    stanza = result.code === 0 ? parseAptStanzas(result.stdout).find((s) => s.Package === source.package) : undefined;
    if (!stanza) {
      problem = new KilnError(ErrorCodes.DEBIAN_PACKAGE_UNKNOWN, `apt does not know the package ${spec}`, {
        hint: multiarchHint(source.dpkgArch),
        details: lastLines(result.stderr, 3),
      });
    }
  } catch (error) {
    if (!isKilnError(error, ErrorCodes.TOOL_MISSING)) throw error;
    problem = error;
  }
  if (!stanza) {
    const cached = await newestCached(ctx, source);
    if (!cached) throw problem!;
    ctx.reporter.emit({ type: 'warning', code: problem!.code, message: `${problem!.message}; using the cached ${cached.package} ${cached.version}`, hint: problem!.hint ?? '' });
    return cached;
  }
  await writeFileAtomically(memo, canonicalJson(stanza));
  const { Version: version, SHA256: digest } = stanza;
  if (!version || !digest || !/^[0-9a-f]{64}$/.test(digest)) {
    throw new KilnError(ErrorCodes.DEBIAN_PACKAGE_UNKNOWN, `apt has no SHA256 for ${spec}`, { hint: 'run apt-get update' });
  }
  const dir = join(ctx.paths.cache, 'libc', digest);
  const known = await readEntry(dir);
  ctx.reporter.emit({ type: 'cache', what: `C library ${spec}`, hit: known !== undefined, key: digest });
  if (known) return known;

  await mkdir(join(ctx.paths.cache, 'libc'), { recursive: true });
  const download = await mkdtemp(join(ctx.paths.cache, 'libc', ownedTempPrefix('.download-')));
  try {
    ctx.reporter.emit({ type: 'download', what: `${spec} ${version}`, ...(stanza.Size ? { bytes: Number(stanza.Size) } : {}) });
    const fetched = await run('apt-get', ['download', '--', `${spec}=${version}`], { cwd: download, env: ctx.env, check: false });
    const debs = (await readdir(download)).filter((name) => name.endsWith('.deb'));
    if (fetched.code !== 0 || debs.length !== 1) {
      throw new KilnError(ErrorCodes.DEBIAN_DOWNLOAD_FAILED, `apt-get could not download ${spec}=${version}`, {
        hint: 'run apt-get update and check that the Debian archive is reachable',
        details: lastLines(fetched.stderr || fetched.stdout, 8),
      });
    }
    const deb = join(download, debs[0]!);
    const actual = await sha256File(deb);
    if (actual !== digest) {
      throw new KilnError(ErrorCodes.DEBIAN_HASH_MISMATCH, `${spec} ${version} does not have the sha256 apt's index gives`, {
        details: [`expected ${digest}`, `actual   ${actual}`],
      });
    }
    await publishDirectory(dir, async (tmp) => {
      await run('dpkg-deb', ['-x', '--', deb, join(tmp, 'root')], { env: ctx.env });
      const meta = { package: source.package, version, architecture: source.dpkgArch, sha256: digest };
      await writeFile(join(tmp, META), canonicalJson(meta));
    });
  } finally {
    await rm(download, { recursive: true, force: true });
  }
  const entry = await readEntry(dir);
  if (!entry) throw new KilnError(ErrorCodes.DEBIAN_DOWNLOAD_FAILED, `the cache entry for ${spec} ${version} is incomplete`);
  return entry;
}

async function readEntry(dir: string): Promise<LibcEntry | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, META), 'utf8')) as Omit<LibcEntry, 'root'>;
    return meta.package && meta.sha256 ? { ...meta, root: join(dir, 'root') } : undefined;
  } catch {
    return undefined;
  }
}

async function newestCached(ctx: Context, source: Extract<LibcSource, { kind: 'debian-download' }>): Promise<LibcEntry | undefined> {
  const base = join(ctx.paths.cache, 'libc');
  const names = (await readdir(base).catch(() => [] as string[])).filter((name) => /^[0-9a-f]{64}$/.test(name));
  const entries = (await Promise.all(names.map((name) => readEntry(join(base, name))))).filter(
    (entry): entry is LibcEntry => entry?.package === source.package && entry.architecture === source.dpkgArch,
  );
  entries.sort((a, b) => compareDebianVersions(b.version, a.version) || a.sha256.localeCompare(b.sha256));
  return entries[0];
}
