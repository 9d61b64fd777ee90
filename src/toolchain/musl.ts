import { mkdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Context } from '../context.js';
import { ErrorCodes, KilnError, isKilnError } from '../errors.js';
import { run } from '../util/exec.js';

/**
 * A minimal C compiler front over the host's musl-gcc (Debian: musl-tools), until the full
 * x86_64-kiln-linux-musl wrappers exist. Output is static by default and reproducible: the
 * same sources, flags and compiler give the same bytes wherever and whenever they are built.
 */

export const MUSL_GCC = 'musl-gcc';

export interface CompileCOptions {
  sources: string[];
  output: string;
  /** Added after kiln's own flags, so they can override e.g. the -O level. */
  cflags?: string[];
  /** Added after the sources (libraries such as -lm must follow them). */
  ldflags?: string[];
  /** Link statically. Default true. */
  static?: boolean;
  /** The compiler driver to run instead of musl-gcc, e.g. a kiln cross wrapper (same flags). */
  compiler?: string;
}

/** The flags that make a build independent of where, when and in which directory it runs. */
export function reproducibleFlags(sourceDirs: readonly string[], cwd: string): string[] {
  // Mapping "/" would mangle every absolute path (system headers too), so it is left out.
  const dirs = [...new Set([cwd, ...sourceDirs])].filter((dir) => dir !== '/');
  return [
    ...dirs.map((dir) => `-ffile-prefix-map=${dir}=.`),
    // Some code generation (e.g. names of anonymous things) draws on a per-run random seed.
    '-frandom-seed=kiln',
  ];
}

/** The full musl-gcc argv for a compile, kept pure so it can be tested and hashed. */
export function compileArgv(options: CompileCOptions, cwd: string): string[] {
  const sources = options.sources.map((source) => resolve(cwd, source));
  return [
    ...((options.static ?? true) ? ['-static'] : []),
    '-O2',
    ...reproducibleFlags(sources.map((source) => dirname(source)), cwd),
    ...(options.cflags ?? []),
    '-o',
    resolve(cwd, options.output),
    ...sources,
    // A build id hashes the output, but one that differs by compiler path would defeat caching
    // across hosts; content addressing is done by kiln itself.
    '-Wl,--build-id=none',
    ...(options.ldflags ?? []),
  ];
}

/** The environment a compile runs in: SOURCE_DATE_EPOCH pins __DATE__ and __TIME__. */
export function compileEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, SOURCE_DATE_EPOCH: env.SOURCE_DATE_EPOCH ?? '0', LC_ALL: 'C' };
}

export async function compileC(ctx: Context, options: CompileCOptions): Promise<void> {
  if (options.sources.length === 0) throw new KilnError(ErrorCodes.USAGE, 'compileC needs at least one source file');
  const cwd = process.cwd();
  await mkdir(dirname(resolve(cwd, options.output)), { recursive: true });
  ctx.reporter.emit({ type: 'step', step: 'compile', message: `compiling ${options.sources.map((s) => basename(s)).join(', ')}` });
  try {
    await run(options.compiler ?? MUSL_GCC, compileArgv(options, cwd), { cwd, env: compileEnv(ctx.env), ...(ctx.signal ? { signal: ctx.signal } : {}) });
  } catch (error) {
    throw explainCompilerError(error, options);
  }
}

function compilerMissing(cause: unknown, what: string, hint: string): KilnError {
  return new KilnError(ErrorCodes.COMPILER_MISSING, `${what} is not installed`, { hint, cause });
}

function explainCompilerError(error: unknown, options: CompileCOptions): unknown {
  if (isKilnError(error, ErrorCodes.TOOL_MISSING)) return compilerMissing(error, MUSL_GCC, 'apt-get install musl-tools');
  if (!isKilnError(error, ErrorCodes.TOOL_FAILED)) return error;
  // musl-gcc is a shell wrapper around the host gcc (or $REALGCC): status 127 means that is missing.
  if (error.message.endsWith('status 127')) return compilerMissing(error, 'the C compiler behind musl-gcc', 'apt-get install gcc musl-tools');
  return new KilnError(ErrorCodes.TOOL_FAILED, `${MUSL_GCC} could not build ${basename(options.output)}`, {
    details: error.details,
    cause: error,
  });
}

const identities = new Map<string, Promise<string>>();

/**
 * Names the compiler and C library that compileC uses, e.g.
 * "x86_64-linux-gnu-gcc (Debian 12.2.0-14+deb12u1) 12.2.0; musl 1.2.3-1 (musl-dev)".
 * Part of cache keys: a different compiler or libc must not reuse binaries built by another.
 * Remembered per process (and per PATH/REALGCC, which choose the compiler).
 */
export function compilerIdentity(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const key = `${env.PATH ?? ''}\0${env.REALGCC ?? ''}`;
  let identity = identities.get(key);
  if (!identity) {
    identity = findCompilerIdentity(env);
    identities.set(key, identity);
    identity.catch(() => identities.delete(key));
  }
  return identity;
}

async function findCompilerIdentity(env: NodeJS.ProcessEnv): Promise<string> {
  let compiler: string;
  try {
    // Through the wrapper, so that $REALGCC is honoured as it will be when compiling.
    const { stdout } = await run(MUSL_GCC, ['--version'], { env: compileEnv(env) });
    compiler = stdout.split('\n')[0]?.trim() || 'unknown';
  } catch (error) {
    throw explainCompilerError(error, { sources: [], output: 'the compiler identity' });
  }
  return `${compiler}; musl ${await muslVersion(env)}`;
}

/** Where musl's dynamic loader lives in the usual installs; run alone, it prints its version. */
function muslLoaders(): string[] {
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  return [`/lib/ld-musl-${arch}.so.1`, '/usr/lib/musl/lib/libc.so', '/usr/local/musl/lib/libc.so'];
}

async function muslVersion(env: NodeJS.ProcessEnv): Promise<string> {
  // Debian's package version includes its own patches, which the upstream version does not.
  try {
    const dpkg = await run('dpkg-query', ['-W', '-f=${Version}', 'musl-dev'], { env, check: false });
    if (dpkg.code === 0 && dpkg.stdout.trim()) return `${dpkg.stdout.trim()} (musl-dev)`;
  } catch {
    // not a Debian-like host
  }
  for (const loader of muslLoaders()) {
    try {
      const result = await run(loader, [], { env, check: false });
      const match = /^Version (\S+)/m.exec(result.stderr);
      if (match) return match[1]!;
    } catch {
      // not there: try the next place
    }
  }
  return 'unknown';
}
