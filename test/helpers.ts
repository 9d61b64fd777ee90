import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { createContext, type Context } from '../src/context.js';
import { MemoryReporter } from '../src/events.js';
import { compileC } from '../src/toolchain/musl.js';
import { launch, type LaunchRequest, type LaunchResult } from '../src/launch/launch.js';
import { findFreePort } from '../src/launch/ports.js';
import { requireProgram } from '../src/util/exec.js';

/** One cache per machine for every test run, so Debian's kernel is downloaded once. */
export const SHARED_CACHE = process.env.KILN_CACHE_DIR ?? join(homedir(), '.cache', 'kiln-test');

const tempDirs: string[] = [];
process.on('exit', () => {
  forgetGcRoots(SHARED_CACHE, tempDirs);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Removes the gc roots (store/roots/*.json in `cache`) of projects inside `dirs`: `kiln build`
 * of a test's temporary project registers one in the shared cache, and the project is about to
 * be deleted. Synchronous, for the exit handler.
 */
export function forgetGcRoots(cache: string, dirs: readonly string[]): void {
  const roots = join(cache, 'store', 'roots');
  let names: string[];
  try {
    names = readdirSync(roots);
  } catch {
    return;
  }
  for (const name of names) {
    try {
      const project = (JSON.parse(readFileSync(join(roots, name), 'utf8')) as { project?: string }).project;
      if (project && dirs.some((dir) => project === dir || project.startsWith(`${dir}/`))) rmSync(join(roots, name), { force: true });
    } catch {
      // being written by another process, or not a root: not ours to judge
    }
  }
}

/** A private directory, removed when the test file's process exits (with any gc roots of projects in it). */
export async function tempDir(prefix = 'kiln-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function testContext(cache = SHARED_CACHE): { ctx: Context; events: MemoryReporter } {
  const events = new MemoryReporter();
  return { ctx: createContext({ paths: { cache, state: join(cache, 'state') }, reporter: events }), events };
}

/** Builds one of examples/ (or a C file of the test's) as a static musl binary. */
export async function buildC(ctx: Context, source: string, outDir: string, name: string, cflags: string[] = []): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const output = join(outDir, name);
  await compileC(ctx, { sources: [source], output, cflags });
  return output;
}

export interface Captured extends LaunchResult {
  output: string;
}

/** Launches under TCG (the accelerator that works on the test machines) and captures the console. */
export async function launchCaptured(ctx: Context, request: Omit<LaunchRequest, 'console'>): Promise<Captured> {
  const stream = new PassThrough();
  let output = '';
  stream.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const result = await launch(ctx, { accel: 'tcg', timeoutSeconds: 120, ...request, console: stream });
  return { ...result, output: output.replace(/\r\n/g, '\n') };
}

/**
 * Boots an image whose app serves HTTP on guest port 80 with a free host port forwarded,
 * fetches `/` once it answers (retrying while the guest boots), then asks the VM to stop.
 */
export async function fetchFromGuest(
  ctx: Context,
  request: Omit<LaunchRequest, 'console' | 'ports' | 'stopSignal'>,
): Promise<{ page: string; result: Captured }> {
  const port = await findFreePort();
  const stop = new AbortController();
  const running = launchCaptured(ctx, { ...request, ports: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: port, guestPort: 80 }], stopSignal: stop.signal });
  let ended = false;
  running.then(() => (ended = true), () => (ended = true));
  let page = '';
  for (let attempt = 0; attempt < 240 && !page && !ended; attempt++) {
    try {
      page = await (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })).text();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  stop.abort();
  return { page, result: await running };
}

/** The built CLI, run the way a user runs `kiln`. */
export const KILN_CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts the kiln CLI as a child process with the shared test cache (unless env says
 * otherwise); `done` settles with its exit code and output, `kill` sends SIGKILL.
 */
export function spawnKiln(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): { done: Promise<CliRun>; kill: () => void; pid: number } {
  const child = spawn(process.execPath, [KILN_CLI, ...args], {
    env: { ...process.env, KILN_CACHE_DIR: SHARED_CACHE, ...options.env },
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { done, kill: () => child.kill('SIGKILL'), pid: child.pid! };
}

export function runKiln(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliRun> {
  return spawnKiln(args, options).done;
}

/**
 * A stand-in `qemu-system-x86_64` first on PATH, for the host kinds this machine is not:
 * - `broken-kvm`: with `-accel kvm` it prints what QEMU 7.2 prints on a host whose /dev/kvm
 *   exists but refuses the vCPU's MSRs (nested-virtualisation stand-ins), then dies by SIGABRT,
 *   as QEMU does there; with any other accelerator it runs the real QEMU.
 * - `abort`: it always dies by SIGABRT after one line on stderr (QEMU crashing mid-run).
 * Core dumps are switched off first, so no `core` file lands anywhere. Returns the environment
 * to run kiln with, and sets KILN_KVM_DEVICE to a device node that passes kiln's access check.
 */
export async function standInQemuEnv(mode: 'broken-kvm' | 'abort'): Promise<NodeJS.ProcessEnv> {
  const dir = await tempDir('kiln-qemu-stand-in-');
  const real = await requireProgram('qemu-system-x86_64');
  const abort = [
    'ulimit -c 0',
    'kill -ABRT $$',
    'exit 99 # not reached: SIGABRT ends the shell',
  ];
  const script =
    mode === 'broken-kvm'
      ? [
          '#!/bin/sh',
          '# kiln test stand-in: QEMU on a host whose KVM aborts at vCPU set-up',
          'prev=',
          'for arg in "$@"; do',
          '  if [ "$prev" = "-accel" ] && [ "${arg%%,*}" = kvm ]; then',
          "    echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69' >&2",
          `    echo "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:2893: kvm_buf_set_msrs: Assertion \\\`ret == cpu->kvm_msr_buf->nmsrs' failed." >&2`,
          ...abort.map((line) => `    ${line}`),
          '  fi',
          '  prev=$arg',
          'done',
          `exec '${real}' "$@"`,
        ]
      : ['#!/bin/sh', '# kiln test stand-in: a QEMU that aborts', 'echo "qemu-system-x86_64: stand-in abort for a test" >&2', ...abort];
  await writeFile(join(dir, 'qemu-system-x86_64'), script.join('\n') + '\n', { mode: 0o755 });
  return { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, KILN_KVM_DEVICE: '/dev/null' };
}
