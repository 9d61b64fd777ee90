import { spawn } from 'node:child_process';
import { appendFile, mkdir, open } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { requireProgram, lastLines } from '../util/exec.js';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';

/**
 * Running build steps: each step is an argv list (never a shell string), run in the build
 * tree, with only the environment the build is given (no variable of the caller leaks in),
 * in a fresh network namespace (`unshare --net`), where only a down loopback exists, so a
 * build cannot download anything (all its inputs are the hashed sources), and in a fresh mount
 * namespace where the host's root file system is read-only except the build's work tree.
 *
 * The work tree is bind-mounted at a fixed path (BUILD_ROOT) in that namespace and the steps
 * run there, so every path a build writes into its outputs (__FILE__, debug info, SQLite's
 * shell embedding its source path, libtool's .la files) is the same whatever kiln's cache
 * location: the same recipe gives the same bytes under any cache directory.
 */

/** Where a build's work tree appears to its steps (src/, destdir/, toolchain/, ... below it). */
export const BUILD_ROOT = '/kiln-build';

/** A standard PATH behind the toolchain's bin directory: the host's tools (make, sed, sh), not the caller's PATH. */
export const BASE_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

/**
 * Run inside the step's own mount namespace, before the step: the work tree ($0) is bound at
 * the fixed path ($1, BUILD_ROOT, an empty directory on the host), then the host's root file
 * system becomes read-only there; the bind mount is a mount of its own, so it stays writable.
 * A step that would `make install` onto the host, or write under /etc, fails with "Read-only
 * file system" instead. Steps run without capabilities, so they cannot remount anything back. The step then starts in $2, a directory under the fixed path. A fixed
 * script: paths and the step's argv are its positional arguments, never pasted into it.
 */
export const CONFINE_SCRIPT = [
  'mount --make-rprivate /',
  'mount --bind "$0" "$1"',
  'mount -o remount,bind,ro /',
  // The host's writable shared places become private and empty, its kernel knobs read-only.
  'mount -t tmpfs -o mode=0755 tmpfs /run',
  'mount -t tmpfs -o mode=1777 tmpfs /dev/shm',
  'mount -o remount,bind,ro /sys',
  'mount --bind /proc/sys /proc/sys',
  'mount -o remount,bind,ro /proc/sys',
  'cd "$2"',
  'shift 2',
  // The step runs with no capabilities at all (and can gain none): it cannot undo the mounts
  // above, mount anything, or override file permissions, though its uid is still 0.
  'exec setpriv --no-new-privs --bounding-set -all --inh-caps -all --ambient-caps -all -- "$@"',
].join(' && ');

function confined(work: string, cwd: string, argv: readonly string[]): string[] {
  return ['--net', '--mount', '--', '/bin/sh', '-c', CONFINE_SCRIPT, work, BUILD_ROOT, cwd, ...argv];
}

/** The path a host path inside the work tree has for the steps. */
export function insideBuild(work: string, hostPath: string): string {
  const rel = relative(work, hostPath);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${hostPath} is not inside the build's work tree ${work}`);
  return rel ? `${BUILD_ROOT}/${rel.split(sep).join('/')}` : BUILD_ROOT;
}

/** The mount point: an empty directory on the host, created once (bind mounts need one to exist). */
async function ensureBuildRoot(): Promise<void> {
  await mkdir(BUILD_ROOT, { recursive: true, mode: 0o755 }).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.TOOL_FAILED, `cannot create ${BUILD_ROOT}, where build steps see their work tree`, { cause: error, hint: `run kiln build as root, or create the empty directory ${BUILD_ROOT} once` });
  });
}

let unshareChecked: Promise<string> | undefined;

/** The unshare program, once checked to work here (it needs root or user namespaces). */
export function requireUnshare(): Promise<string> {
  unshareChecked ??= (async () => {
    const program = await requireProgram('unshare', { PATH: BASE_PATH }).catch((error: unknown) => {
      throw new KilnError(ErrorCodes.TOOL_MISSING, 'unshare is not installed: kiln runs build steps without network through it', { cause: error, hint: 'apt-get install util-linux' });
    });
    await requireProgram('mount', { PATH: BASE_PATH }).catch((error: unknown) => {
      throw new KilnError(ErrorCodes.TOOL_MISSING, 'mount is not installed: kiln makes the host read-only for build steps with it', { cause: error, hint: 'apt-get install mount' });
    });
    await ensureBuildRoot();
    const probe = await runLogged(program, confined(tmpdir(), BUILD_ROOT, ['true']), { cwd: '/', env: { PATH: BASE_PATH }, log: undefined });
    if (probe.code !== 0) {
      throw new KilnError(ErrorCodes.TOOL_FAILED, 'unshare --net --mount does not work here, so build steps cannot be cut off from the network and the host', {
        details: probe.tail,
        hint: 'run kiln build as root (it needs new network and mount namespaces)',
      });
    }
    return program;
  })();
  unshareChecked.catch(() => (unshareChecked = undefined));
  return unshareChecked;
}

/** $KILN_X and ${KILN_X} in step arguments are replaced by the build's values. */
export function expandArgument(arg: string, env: Record<string, string>): string {
  return arg.replace(/\$\{(KILN_[A-Z0-9_]+)\}|\$(KILN_[A-Z0-9_]+)/g, (_match, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const value = env[name];
    if (value === undefined) {
      throw new KilnError(ErrorCodes.RECIPE_INVALID, `build step argument ${JSON.stringify(arg)} names $${name}, which kiln does not set`, {
        hint: `the variables are: ${Object.keys(env).filter((k) => k.startsWith('KILN_')).sort().join(', ')}`,
      });
    }
    return value;
  });
}

interface Logged {
  code: number;
  tail: string[];
}

async function runLogged(program: string, args: string[], options: { cwd: string; env: Record<string, string>; log: string | undefined; signal?: AbortSignal }): Promise<Logged> {
  const handle = options.log ? await open(options.log, 'a') : undefined;
  let captured = '';
  try {
    return await new Promise<Logged>((resolve, reject) => {
      const child = spawn(program, args, {
        cwd: options.cwd,
        env: options.env,
        stdio: ['ignore', handle ? handle.fd : 'pipe', handle ? handle.fd : 'pipe'],
        ...(options.signal ? { signal: options.signal } : {}),
      });
      child.stdout?.on('data', (chunk: Buffer) => (captured += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (captured += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), tail: lastLines(captured, 15) }));
    });
  } finally {
    await handle?.close();
  }
}

export interface StepRun {
  steps: string[][];
  /** The work tree on the host: the only directory steps may write to, which they see at BUILD_ROOT. */
  work: string;
  /** Where the steps start: a host path inside `work`. */
  cwd: string;
  env: Record<string, string>;
  log: string;
  /** Names the package in errors. */
  what: string;
  /** Where the log will be kept if a step fails (told to the user). */
  keptLog: () => Promise<string>;
}

/** Runs the steps in order; the first failing one throws KILN_BUILD_FAILED with the log's tail. */
export async function runSteps(ctx: Context, run: StepRun): Promise<void> {
  const unshare = await requireUnshare();
  for (const [index, raw] of run.steps.entries()) {
    const argv = raw.map((arg) => expandArgument(arg, run.env));
    const label = `step ${index + 1}/${run.steps.length}: ${argv.join(' ')}`;
    ctx.reporter.emit({ type: 'step', step: 'build', message: `${run.what}: ${label}` });
    await appendFile(run.log, `\n$ ${argv.join(' ')}\n`);
    const result = await runLogged(unshare, confined(run.work, insideBuild(run.work, run.cwd), argv), { cwd: run.work, env: run.env, log: run.log, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    if (result.code !== 0) {
      const kept = await run.keptLog();
      const text = await readFile(kept, 'utf8').catch(() => '');
      throw new KilnError(ErrorCodes.BUILD_FAILED, `building ${run.what} failed at ${label} (exit status ${result.code})`, {
        details: [`argv: ${JSON.stringify(argv)}`, `log: ${kept}`, ...lastLines(text, 20)],
        hint: `the full log is ${kept}; the store was not changed`,
      });
    }
  }
}
