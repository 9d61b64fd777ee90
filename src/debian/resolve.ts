import { ARCHS, DEFAULT_ARCH } from '../arch.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { closest, distance } from 'fastest-levenshtein';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { parseAptStanzas } from '../components/apt.js';
import { aptStateFingerprint } from '../components/apt-memo.js';
import { lastLines, run } from '../util/exec.js';
import { canonicalJson, sha256, writeFileAtomically } from '../util/fs.js';
import { availableFromStanza, INSTALL_ONLY_PACKAGES, resolveClosureIn, universeFrom, type AvailablePackage } from './closure.js';
import type { DebianLock, DebianLockEntry, DebianSpec } from './types.js';

/**
 * Resolves a Debian binary package's Depends/Pre-Depends closure from the host's apt lists,
 * without installing anything and without touching the host's package state:
 *   1. `apt-cache depends --recurse` names every package the closure could reach (all
 *      alternatives and providers, a superset);
 *   2. `apt-cache show --no-all-versions` over those names gives apt's candidate of each
 *      (version, Architecture, Source, Filename, Size, SHA256 from the signed index);
 *   3. closure.ts chooses, deterministically; other versions are asked for only when a
 *      constraint or the requested version needs them.
 * Each apt-cache run costs 1-3 s here (the lists are lz4-compressed and re-read), so the
 * answer is remembered under a fingerprint of apt's state, like the kernel's (apt-memo.ts).
 */

/** Debian packages as inputs are taken for the default architecture (x86_64 images: amd64 packages). */
const DEBIAN_ARCH = ARCHS[DEFAULT_ARCH].dpkgArch;
/** Bumped when the resolution rules change, so remembered answers are not reused. */
const RULES_VERSION = 1;

export async function resolveDebianClosure(ctx: Context, spec: DebianSpec): Promise<DebianLock> {
  const fingerprint = await aptStateFingerprint(ctx);
  const extra = [...new Set(spec.extraPackages ?? [])].filter((name) => name !== spec.package).sort();
  const key = sha256(canonicalJson({ rules: RULES_VERSION, fingerprint, package: spec.package, version: spec.version ?? '', arch: DEBIAN_ARCH, drop: INSTALL_ONLY_PACKAGES, ...(extra.length > 0 ? { extra } : {}) }));
  const memo = join(ctx.paths.cache, 'debian', 'locks', `${key}.json`);
  const remembered = await readFile(memo, 'utf8').then((text) => JSON.parse(text) as DebianLock, () => undefined);
  if (remembered?.closure?.length) {
    ctx.reporter.emit({ type: 'cache', what: `debian closure of ${spec.package}`, hit: true, key });
    return remembered;
  }
  ctx.reporter.emit({ type: 'step', step: 'debian', message: `resolving ${[`${spec.package}${spec.version ? `=${spec.version}` : ''}`, ...extra].join(', ')} through apt` });
  const lock = await resolveWithApt(ctx, { ...spec, extraPackages: extra });
  await writeFileAtomically(memo, canonicalJson(lock));
  return lock;
}

async function resolveWithApt(ctx: Context, spec: DebianSpec): Promise<DebianLock> {
  const extra = spec.extraPackages ?? [];
  const names = [...new Set((await Promise.all([spec.package, ...extra].map((name) => reachableNames(ctx, name)))).flat())].sort();
  const candidates = (await aptShow(ctx, names, false)).map(availableFromStanza).filter((p): p is AvailablePackage => p !== undefined);
  let others: AvailablePackage[] = [];
  let root = candidates.find((p) => p.package === spec.package);
  if (spec.version !== undefined && root?.version !== spec.version) {
    others = (await aptShow(ctx, [spec.package], true)).map(availableFromStanza).filter((p): p is AvailablePackage => p !== undefined);
    root = others.find((p) => p.package === spec.package && p.version === spec.version);
    if (!root) {
      throw new KilnError(ErrorCodes.DEBIAN_UNRESOLVABLE, `apt's lists have no version ${spec.version} of ${spec.package}`, {
        hint: `omit the version to take apt's candidate, or pick one of those listed`,
        details: [`known versions: ${others.map((p) => p.version).join(', ') || '(none with a download)'}`],
      });
    }
  }
  if (!root) {
    throw new KilnError(ErrorCodes.DEBIAN_UNRESOLVABLE, `${spec.package} is known to apt but has no downloadable candidate`, {
      hint: 'it may be purely virtual (provided by other packages): name one of its providers; or run apt-get update',
    });
  }
  const roots = [root];
  for (const name of extra) {
    const candidate = candidates.find((p) => p.package === name);
    if (!candidate) {
      throw new KilnError(ErrorCodes.DEBIAN_UNRESOLVABLE, `${name} is known to apt but has no downloadable candidate`, { hint: 'name a real (not purely virtual) package, or run apt-get update' });
    }
    roots.push(candidate);
  }
  let result;
  try {
    result = resolveClosureIn(universeFrom(candidates, others), roots);
  } catch (error) {
    // A constraint the candidates do not meet: load every version of every reachable package once, and retry.
    if (!(error instanceof KilnError) || error.code !== ErrorCodes.DEBIAN_UNRESOLVABLE) throw error;
    others = [...others, ...(await aptShow(ctx, names, true)).map(availableFromStanza).filter((p): p is AvailablePackage => p !== undefined)];
    result = resolveClosureIn(universeFrom(candidates, others), roots);
  }
  if (result.dropped.length > 0) ctx.reporter.emit({ type: 'info', message: `left out install-time-only dependencies: ${result.dropped.join('; ')}` });
  const closure: DebianLockEntry[] = result.packages.map((p) => ({
    package: p.package,
    version: p.version,
    architecture: p.architecture,
    sha256: p.sha256,
    size: p.size,
    filename: p.filename,
    source: p.source,
  }));
  return { package: root.package, version: root.version, architecture: root.architecture, closure };
}

/** Every package name the closure could reach, as `apt-cache depends --recurse` lists them. */
async function reachableNames(ctx: Context, name: string): Promise<string[]> {
  const result = await apt(ctx, 'apt-cache', ['depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', '--', name]);
  if (result.code !== 0 || result.stdout.trim() === '') throw await unknownPackage(ctx, name, result.stderr);
  return parseDependsListing(result.stdout, DEBIAN_ARCH);
}

/**
 * Names in `apt-cache depends` output: package lines, relation targets, and provider lines;
 * virtual names (<name>) and other architectures (name:arm64) are left out.
 */
export function parseDependsListing(text: string, arch: string): string[] {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const token = line.replace(/^\s*\|?\s*(?:[A-Za-z-]+:\s+)?/, '').trim();
    if (token === '' || token.startsWith('<')) continue;
    const [name, qualifier] = token.split(':');
    if (!name || !/^[a-z0-9][a-z0-9+.-]*$/.test(name)) continue;
    if (qualifier !== undefined && qualifier !== arch && qualifier !== 'all' && qualifier !== 'any') continue;
    names.add(name);
  }
  return [...names].sort();
}

async function aptShow(ctx: Context, names: string[], allVersions: boolean) {
  if (names.length === 0) return [];
  const result = await apt(ctx, 'apt-cache', ['show', ...(allVersions ? ['--all-versions'] : ['--no-all-versions']), '--', ...names]);
  return parseAptStanzas(result.stdout).filter((s) => s.Package && (s.Architecture === DEBIAN_ARCH || s.Architecture === 'all'));
}

async function unknownPackage(ctx: Context, name: string, stderr: string): Promise<KilnError> {
  const all = (await apt(ctx, 'apt-cache', ['pkgnames'])).stdout.split('\n').filter((n) => n.length > 0);
  const suggestions = suggestNames(name, all);
  return new KilnError(ErrorCodes.DEBIAN_PACKAGE_UNKNOWN, `apt knows no Debian package named ${name}`, {
    hint: suggestions.length > 0 ? `did you mean ${suggestions.join(', ')}?` : 'check the name (apt-cache search WORD), or run apt-get update',
    details: lastLines(stderr, 3),
  });
}

/** Close names: the nearest by edit distance, plus names that extend the one given (redis -> redis-server). */
export function suggestNames(name: string, all: string[], limit = 5): string[] {
  if (all.length === 0) return [];
  const scored = all
    .map((n) => ({ n, d: n.startsWith(name) ? Math.min(distance(name, n), 2) : isTransposition(name, n) ? 1 : distance(name, n) }))
    .filter((s) => s.d <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.d - b.d || a.n.length - b.n.length || (a.n < b.n ? -1 : 1));
  const out = scored.slice(0, limit).map((s) => s.n);
  return out.length > 0 ? out : [closest(name, all)];
}

/** Same letters, two neighbours swapped (ngnix / nginx): one typo, though Levenshtein counts two. */
function isTransposition(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const diff = [...a].map((c, i) => (c === b[i] ? -1 : i)).filter((i) => i >= 0);
  return diff.length === 2 && diff[1] === diff[0]! + 1 && a[diff[0]!] === b[diff[1]!] && a[diff[1]!] === b[diff[0]!];
}

async function apt(ctx: Context, program: string, args: string[]) {
  try {
    return await run(program, args, { env: { ...ctx.env, LC_ALL: 'C' }, check: false, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  } catch (error) {
    if (ctx.signal?.aborted) throw new KilnError(ErrorCodes.INTERRUPTED, 'interrupted', { cause: error });
    throw error;
  }
}
