import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Context } from '../context.js';
import type { ExitReport } from '../events.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { toolMissing, lastLines, requireProgram } from '../util/exec.js';
import { QmpClient } from './qmp.js';
import { describeProcessEnd, kvmFailureReason, parseStatus, type ProcessEnd } from './status.js';

export interface VmRunOptions {
  qemu: string;
  argv: string[];
  /** The accelerator in argv: a KVM failure is then reported as KILN_ACCEL_UNAVAILABLE. */
  accel: 'kvm' | 'tcg';
  statusPath: string;
  qmpSocketPath: string;
  /** Where the guest console goes; omitted when the console is written to a file by QEMU. */
  console?: Writable;
  timeoutSeconds?: number;
  /** How long a graceful stop may take before QEMU is killed. */
  stopTimeoutSeconds: number;
  /** Aborting this signal asks for a graceful stop (Ctrl-C). */
  stopSignal?: AbortSignal;
  /** Aborting this signal kills QEMU at once (a second Ctrl-C). */
  killSignal?: AbortSignal;
}

export interface VmResult {
  report: ExitReport;
  /** Milliseconds from spawn to the first console byte and to QEMU's exit. */
  timings: { firstOutputMs?: number; exitMs: number };
  /** How the QEMU process ended (its exit status, or the signal that killed it). */
  qemuEnd: ProcessEnd;
  consoleTail: string;
}

const CONSOLE_TAIL_BYTES = 8192;
const POWER_BUTTON_REPEAT_MS = 1000;

/**
 * Runs one QEMU process to its end. QEMU gets its own process group, so a terminal's Ctrl-C
 * reaches only kiln, which turns it into an ACPI power-button press (the shim then sends
 * SIGTERM to the app); setpriv's parent-death signal makes sure QEMU never outlives kiln.
 */
export async function runVm(ctx: Context, options: VmRunOptions): Promise<VmResult> {
  const started = Date.now();
  const timings: VmResult['timings'] = { exitMs: 0 };
  let consoleTail = '';
  let stderr = '';

  // setpriv would report a missing QEMU as its own failure; name QEMU's package instead.
  const qemu = await requireProgram(options.qemu, ctx.env);
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', qemu, ...options.argv], {
    detached: true,
    stdio: ['ignore', options.console ? 'pipe' : 'ignore', 'pipe'],
  });
  const spawned = await new Promise<ChildProcess>((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? toolMissing('setpriv', error) : error));
  });
  ctx.reporter.emit({ type: 'vm-started', pid: spawned.pid!, argv: [options.qemu, ...options.argv], qmpSocket: options.qmpSocketPath });

  child.stdout?.on('data', (chunk: Buffer) => {
    timings.firstOutputMs ??= Date.now() - started;
    options.console!.write(chunk);
    consoleTail = (consoleTail + chunk.toString('utf8')).slice(-CONSOLE_TAIL_BYTES);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-CONSOLE_TAIL_BYTES);
  });
  const exited = new Promise<ProcessEnd>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));

  let requested: 'timeout' | 'stop' | undefined;
  let forced = false;
  const stop = async (why: 'timeout' | 'stop') => {
    if (requested) return;
    requested = why;
    const killTimer = setTimeout(() => {
      forced = true;
      child.kill('SIGKILL');
    }, options.stopTimeoutSeconds * 1000);
    killTimer.unref();
    void exited.then(() => clearTimeout(killTimer));
    // A press that comes before the guest's init listens for the power button (early in boot)
    // is lost, so the button is pressed again every second until QEMU is gone.
    let exitedYet = false;
    void exited.then(() => (exitedYet = true));
    try {
      const qmp = await QmpClient.connect(options.qmpSocketPath, 2000);
      try {
        while (!exitedYet) {
          await qmp.execute('system_powerdown');
          await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, POWER_BUTTON_REPEAT_MS))]);
        }
      } finally {
        qmp.close();
      }
    } catch {
      // QMP fails both when QEMU is wedged and when it is just exiting; only the first is forced.
      const gone = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 500))]);
      if (!gone) {
        forced = true;
        child.kill('SIGKILL');
      }
    }
  };
  const timeoutTimer =
    options.timeoutSeconds === undefined ? undefined : setTimeout(() => void stop('timeout'), options.timeoutSeconds * 1000);
  const onAbort = () => void stop('stop');
  const onKill = () => {
    requested ??= 'stop';
    forced = true;
    child.kill('SIGKILL');
  };
  options.stopSignal?.addEventListener('abort', onAbort, { once: true });
  options.killSignal?.addEventListener('abort', onKill, { once: true });

  const qemuEnd = await exited;
  timings.exitMs = Date.now() - started;
  if (timeoutTimer) clearTimeout(timeoutTimer);
  options.stopSignal?.removeEventListener('abort', onAbort);
  options.killSignal?.removeEventListener('abort', onKill);

  const statusText = await readFile(options.statusPath, 'utf8').catch(() => '');
  const status = parseStatus(statusText);
  let report: ExitReport;
  if (requested === 'timeout') report = { kind: 'timeout', seconds: options.timeoutSeconds! };
  else if (status.exit) report = status.exit;
  else if (requested === 'stop') report = { kind: 'stopped', forced };
  else report = { kind: 'crashed', message: crashReason(qemuEnd, stderr, consoleTail) };

  // A KVM that fails (no device, or a vCPU it cannot set up) is the accelerator's fault, not the
  // app's: say so with QEMU's own words, so that `--accel kvm` on such a host is a coded error.
  const kvmReason = options.accel === 'kvm' && report.kind === 'crashed' ? kvmFailureReason(stderr) : undefined;
  if (kvmReason) {
    throw new KilnError(ErrorCodes.ACCEL_UNAVAILABLE, `QEMU could not run the guest under KVM: ${kvmReason} (${describeProcessEnd('QEMU', qemuEnd)})`, {
      details: lastLines(stderr, 10),
      hint: 'use --accel tcg (software emulation), or --accel auto to let kiln probe what works here',
    });
  }
  ctx.reporter.emit({ type: 'vm-exited', status: report });
  return { report, timings, qemuEnd, consoleTail };
}

function crashReason(end: ProcessEnd, stderr: string, consoleTail: string): string {
  const panic = consoleTail.match(/Kernel panic[^\n]*/);
  if (panic) return panic[0].trim();
  const qemuError = lastLines(stderr, 3).join(' / ');
  if (qemuError) return `${describeProcessEnd('QEMU', end)}: ${qemuError}`;
  if (/Out of memory|oom-kill/i.test(consoleTail)) return 'the guest ran out of memory';
  return `${describeProcessEnd('QEMU', end)} and the guest sent no status`;
}
