import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { KilnError, ErrorCodes } from '../errors.js';

/** Debian package that provides each host tool kiln runs; used in "tool missing" hints. */
export const TOOL_PACKAGES: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-system-aarch64': 'qemu-system-arm',
  'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu',
  'qemu-img': 'qemu-utils',
  'musl-gcc': 'musl-tools',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  'mke2fs': 'e2fsprogs',
  cpio: 'cpio',
  gcc: 'gcc',
  xz: 'xz-utils',
  zstd: 'zstd',
  lz4: 'lz4',
  setpriv: 'util-linux',
  objcopy: 'binutils',
  sfdisk: 'fdisk',
  'mkfs.fat': 'dosfstools',
  mmd: 'mtools',
  mcopy: 'mtools',
  'virt-xml-validate': 'libvirt-clients',
  sbsign: 'sbsigntool',
};

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  signal?: AbortSignal;
  /** When false, a non-zero exit is returned instead of thrown. Default true. */
  check?: boolean;
}

/**
 * Runs a program with an argv array (never a shell string) and collects its output.
 * A missing program becomes KILN_TOOL_MISSING naming the Debian package that provides it.
 */
export function run(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      signal: options.signal,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    if (options.input !== undefined) child.stdin!.end(options.input);
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') reject(toolMissing(program, error));
      else reject(error);
    });
    child.on('close', (code, signal) => {
      const result: RunResult = {
        code: code ?? 128,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if ((options.check ?? true) && (code !== 0 || signal)) {
        reject(
          new KilnError(ErrorCodes.TOOL_FAILED, `${program} ${signal ? `was killed by ${signal}` : `exited with status ${code}`}`, {
            details: [`command: ${[program, ...args].join(' ')}`, ...lastLines(result.stderr || result.stdout, 15)],
          }),
        );
        return;
      }
      resolve(result);
    });
  });
}

export function toolMissing(program: string, cause?: unknown): KilnError {
  const base = program.split('/').pop() ?? program;
  const pkg = TOOL_PACKAGES[base];
  return new KilnError(ErrorCodes.TOOL_MISSING, `${base} is not installed`, {
    hint: pkg ? `install it with: apt-get install ${pkg}` : `install ${base} and make sure it is on PATH`,
    cause,
  });
}

export function lastLines(text: string, count: number): string[] {
  return text.trimEnd().split('\n').slice(-count).filter((line) => line.length > 0);
}

/**
 * The full path of `program` on PATH, or KILN_TOOL_MISSING naming its Debian package. Used
 * before starting a program through a wrapper (setpriv), whose own "not found" would otherwise
 * look like the program failing.
 */
export async function requireProgram(program: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dirs = program.includes('/') ? [''] : (env.PATH ?? '').split(':').filter(Boolean);
  for (const dir of dirs) {
    const candidate = dir ? join(dir, program) : program;
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw toolMissing(program);
}
