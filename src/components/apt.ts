import type { Context } from '../context.js';
import { KilnError, ErrorCodes, isKilnError } from '../errors.js';
import { lastLines, run } from '../util/exec.js';
import { throwIfAborted } from './abort.js';
import type { ArchInfo } from '../arch.js';
import type { DebianKernelPin } from './types.js';

/**
 * What the host's apt knows about kernel packages. Only reads apt's local package lists
 * (apt-cache): nothing here touches the network or the host's package state.
 */
export type AptStanza = Record<string, string>;

/** Parses deb822 text ("Field: value" lines, continuation lines start with a space) into stanzas. */
export function parseAptStanzas(text: string): AptStanza[] {
  const stanzas: AptStanza[] = [];
  let fields: AptStanza = {};
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (Object.keys(fields).length > 0) stanzas.push(fields);
      fields = {};
      last = undefined;
      continue;
    }
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      fields[last] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon);
    fields[last] = line.slice(colon + 1).trim();
  }
  if (Object.keys(fields).length > 0) stanzas.push(fields);
  return stanzas;
}

/**
 * Finds a versioned kernel package in a metapackage's Depends, e.g.
 * "linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)" -> that name and version.
 * Alternatives ("a | b") are tried in order.
 */
export function kernelDependency(depends: string): { name: string; version?: string } | undefined {
  for (const clause of depends.split(',')) {
    for (const alternative of clause.split('|')) {
      const match = /^\s*(linux-image-\d[^\s:(]*)(?::\S+)?\s*(?:\(\s*=\s*([^)\s]+)\s*\))?/.exec(alternative);
      if (match) return { name: match[1]!, ...(match[2] ? { version: match[2] } : {}) };
    }
  }
  return undefined;
}

/** True for package names that are a specific kernel (linux-image-6.1.0-56-cloud-amd64), not a metapackage. */
export function isVersionedKernelPackage(name: string): boolean {
  return /^linux-image-\d/.test(name);
}

export interface ResolvedKernelPackage extends DebianKernelPin {
  size: number;
}

/**
 * Follows a metapackage to the kernel package it depends on and returns apt's facts for it.
 * KILN_KERNEL_NOT_FOUND when apt's lists do not know the package (no lists yet, offline
 * host, or a wrong name); KILN_TOOL_MISSING when apt-cache is not installed.
 */
export async function resolveKernelPackage(ctx: Context, name: string, arch: ArchInfo): Promise<ResolvedKernelPackage> {
  let stanza: AptStanza | undefined;
  if (isVersionedKernelPackage(name)) {
    stanza = await aptShowOne(ctx, name, arch);
  } else {
    // Each apt-cache run re-reads the package lists (about 1 s on hosts without apt's binary
    // cache), so the metapackage and its likely targets (linux-image-*-<flavour>) are asked
    // for in one run; a second, exact query is only needed if the guess missed.
    const flavourPattern = `linux-image-*-${name.replace(/^linux-image-/, '')}`;
    const stanzas = await aptShow(ctx, [qualify(name, arch), qualify(flavourPattern, arch)]);
    const meta = stanzas.find((candidate) => candidate.Package === name);
    if (!meta) throw notKnown(qualify(name, arch), '');
    const target = kernelDependency(meta.Depends ?? '');
    if (!target) {
      throw new KilnError(ErrorCodes.KERNEL_NOT_FOUND, `${name} does not depend on a linux-image-<version> package`, {
        hint: 'give a kernel package such as linux-image-6.1.0-NN-cloud-amd64, or its metapackage linux-image-cloud-amd64',
        details: [`Depends: ${meta.Depends ?? '(none)'}`],
      });
    }
    stanza =
      stanzas.find((candidate) => candidate.Package === target.name && (!target.version || candidate.Version === target.version)) ??
      (await aptShowOne(ctx, target.name, arch, target.version));
  }
  const { Package: pkg, Version: version, SHA256: sha256, Size: size } = stanza;
  if (!pkg || !version || !sha256 || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new KilnError(ErrorCodes.KERNEL_NOT_FOUND, `apt has no SHA256 for ${stanza.Package ?? name}`, {
      hint: 'kiln only uses packages whose hash apt knows from the archive; run apt-get update',
    });
  }
  return { package: pkg, version, sha256, size: Number(size ?? 0) };
}

function qualify(name: string, arch: ArchInfo, version?: string): string {
  return `${name}:${arch.dpkgArch}${version ? `=${version}` : ''}`;
}

async function aptShowOne(ctx: Context, name: string, arch: ArchInfo, version?: string): Promise<AptStanza> {
  const spec = qualify(name, arch, version);
  const stanza = (await aptShow(ctx, [spec]))[0];
  if (!stanza) throw notKnown(spec, '');
  return stanza;
}

/** `apt-cache show --no-all-versions` (the candidate version of each package) for `specs`. */
async function aptShow(ctx: Context, specs: string[]): Promise<AptStanza[]> {
  const result = await run('apt-cache', ['show', '--no-all-versions', '--', ...specs], { env: ctx.env, check: false, ...signal(ctx) }).catch((error: unknown) => {
    throwIfAborted(ctx);
    throw error;
  });
  const stanzas = result.code === 0 ? parseAptStanzas(result.stdout).filter((stanza) => stanza.Package) : [];
  if (stanzas.length === 0) throw notKnown(specs.join(' '), result.stderr);
  return stanzas;
}

function notKnown(spec: string, stderr: string): KilnError {
  return new KilnError(ErrorCodes.KERNEL_NOT_FOUND, `apt does not know the package ${spec}`, {
    hint: 'run apt-get update (the package lists may be missing or out of date), and check the package name',
    details: lastLines(stderr, 5),
  });
}

/**
 * `apt-get download pkg:arch=version` into `dir` (the current directory of apt-get, which is
 * where it writes). apt verifies the file against the archive's signed hash itself; the
 * caller checks it again against the hash it was promised.
 */
export async function aptDownload(ctx: Context, pin: DebianKernelPin, arch: ArchInfo, dir: string): Promise<void> {
  const spec = `${pin.package}:${arch.dpkgArch}=${pin.version}`;
  let result;
  try {
    result = await run('apt-get', ['download', '--', spec], { cwd: dir, env: ctx.env, check: false, ...signal(ctx) });
  } catch (error) {
    throwIfAborted(ctx);
    if (isKilnError(error)) throw error;
    throw new KilnError(ErrorCodes.KERNEL_DOWNLOAD_FAILED, `could not run apt-get download ${spec}`, { cause: error });
  }
  if (result.code !== 0) {
    throw new KilnError(ErrorCodes.KERNEL_DOWNLOAD_FAILED, `apt-get could not download ${spec}`, {
      hint: 'run apt-get update (the archive may have dropped this version) and check that the Debian archive is reachable',
      details: lastLines(result.stderr || result.stdout, 10),
    });
  }
}

function signal(ctx: Context): { signal?: AbortSignal } {
  return ctx.signal ? { signal: ctx.signal } : {};
}
