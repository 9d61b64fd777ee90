import { access, constants } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { KilnError, ErrorCodes } from '../errors.js';
import { run } from '../util/exec.js';
import type { TupleInfo } from './tuples.js';

/**
 * The host compiler the wrappers sit on. Nothing about it is assumed: its path, version and
 * identity line are asked of the compiler itself, and the identity goes into every binary's
 * provenance note and into the cache key of the verdict (see verify.ts).
 */
export type CompilerKind = 'gcc' | 'clang';

export interface HostCompiler {
  kind: CompilerKind;
  /** Absolute paths of the C and C++ drivers (cxx is absent when the C++ driver is not installed). */
  cc: string;
  cxx?: string;
  /** e.g. "12.2.0" */
  version: string;
  /** The first line of --version, e.g. "gcc (Debian 12.2.0-14+deb12u1) 12.2.0". */
  identity: string;
  /** What the compiler itself targets (-dumpmachine), e.g. "x86_64-linux-gnu". */
  machine: string;
  /** clang only: its resource directory (stddef.h and friends live under it). */
  resourceDir?: string;
}

const DRIVERS: Record<CompilerKind, { cc: string; cxx: string; packages: string }> = {
  gcc: { cc: 'gcc', cxx: 'g++', packages: 'gcc g++' },
  clang: { cc: 'clang', cxx: 'clang++', packages: 'clang' },
};

/** Finds a program on PATH the way a shell would, without running a shell. */
export async function findOnPath(program: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (isAbsolute(program)) return (await isExecutable(program)) ? program : undefined;
  for (const dir of (env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function noCompilerError(kind: CompilerKind | undefined, tuple?: TupleInfo): KilnError {
  const packages = kind ? DRIVERS[kind].packages : 'gcc g++';
  const libc = tuple?.libcPackages.join(' ') ?? 'musl-tools';
  return new KilnError(ErrorCodes.COMPILER_MISSING, kind ? `the host compiler ${kind} is not installed` : 'no host C compiler found (looked for gcc and clang)', {
    hint: `install one with: apt-get install ${packages} ${libc}${kind ? '' : '   (or: apt-get install clang ' + libc + ')'}`,
  });
}

/** Detects the host compiler: the one asked for, or gcc, then clang. */
export async function detectCompiler(env: NodeJS.ProcessEnv, kind?: CompilerKind): Promise<HostCompiler> {
  const kinds: CompilerKind[] = kind ? [kind] : ['gcc', 'clang'];
  for (const candidate of kinds) {
    const cc = await findOnPath(DRIVERS[candidate].cc, env);
    if (!cc) continue;
    return describeCompiler(env, candidate, cc, await findOnPath(DRIVERS[candidate].cxx, env));
  }
  throw noCompilerError(kind);
}

/**
 * A cross gcc named <triplet>-gcc (Debian's gcc-aarch64-linux-gnu), undefined when it is not
 * installed. Asked the same questions as the host compiler: nothing about it is assumed either.
 */
export async function detectCrossGcc(env: NodeJS.ProcessEnv, triplet: string): Promise<HostCompiler | undefined> {
  const cc = await findOnPath(`${triplet}-gcc`, env);
  return cc ? describeCompiler(env, 'gcc', cc, await findOnPath(`${triplet}-g++`, env)) : undefined;
}

async function describeCompiler(env: NodeJS.ProcessEnv, kind: CompilerKind, cc: string, cxx: string | undefined): Promise<HostCompiler> {
  const runEnv = { ...env, LC_ALL: 'C' };
  const [versionText, machine, numeric] = await Promise.all([
    run(cc, ['--version'], { env: runEnv }),
    run(cc, ['-dumpmachine'], { env: runEnv }),
    // gcc prints the full version with -dumpfullversion; clang answers -dumpversion fully.
    run(cc, [kind === 'gcc' ? '-dumpfullversion' : '-dumpversion'], { env: runEnv }),
  ]);
  const identity = versionText.stdout.split('\n')[0]?.trim() ?? 'unknown';
  const resourceDir = kind === 'clang' ? (await run(cc, ['-print-resource-dir'], { env: runEnv })).stdout.trim() : undefined;
  return {
    kind,
    cc,
    ...(cxx ? { cxx } : {}),
    version: numeric.stdout.trim(),
    identity,
    machine: machine.stdout.trim(),
    ...(resourceDir ? { resourceDir } : {}),
  };
}

/** The runtime files of a gcc (crtbegin*.o, libgcc.a): clang over musl links with the host gcc's too. */
export async function gccRuntimeDir(env: NodeJS.ProcessEnv, program = 'gcc'): Promise<string | undefined> {
  const gcc = await findOnPath(program, env);
  if (!gcc) return undefined;
  const { stdout } = await run(gcc, ['-print-libgcc-file-name'], { env: { ...env, LC_ALL: 'C' } });
  const file = stdout.trim();
  return file.includes('/') ? file.slice(0, file.lastIndexOf('/')) : undefined;
}
