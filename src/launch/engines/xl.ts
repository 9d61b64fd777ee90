import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Writable } from 'node:stream';
import type { RuntimeConfig } from '../../config/runtime.js';
import type { Context } from '../../context.js';
import type { ExitReport } from '../../events.js';
import type { LoadedImage } from '../../image/manifest.js';
import { requireProgram, run } from '../../util/exec.js';
import { xlConfigForImage } from '../../targets/xen/image.js';
import type { Engine, EngineResult, RunControl } from '../engine.js';
import type { LaunchPlan } from '../plan.js';
import { createRunDir } from '../rundir.js';
import { describeProcessEnd, parseStatus, type ProcessEnd } from '../status.js';

/** One `kiln launch` of a xen image on a dom0: the image, this instance's ramdisk and config. */
export interface XlRun {
  image: LoadedImage;
  config: RuntimeConfig;
  /** The image's initrd with this instance's runtime archive appended (status on hvc0, poweroff). */
  ramdiskPath: string;
  /** A private directory for the instance's xl.cfg. */
  runDir: string;
  memoryMiB: number;
  cpus: number;
  console?: Writable;
  timeoutSeconds?: number;
  stopTimeoutSeconds: number;
  stopSignal?: AbortSignal;
  killSignal?: AbortSignal;
}

export type XlResult = EngineResult;

/**
 * The xl.cfg of one instance: absolute paths (xl runs from anywhere), a domain name made
 * unique by kiln's pid, and a vif per interface of the instance's config. Pure.
 */
export function instanceXlConfig(run: Pick<XlRun, 'image' | 'config' | 'ramdiskPath' | 'memoryMiB' | 'cpus'>, pid: number): { name: string; text: string } {
  const { manifest } = run.image;
  const appName = `${posix.basename(manifest.app.guestPath)}-${pid}`;
  return xlConfigForImage({ ...manifest, kernel: { ...manifest.kernel, file: run.image.kernelPath } }, run.config, {
    ramdiskFile: run.ramdiskPath,
    appName,
    memoryMiB: run.memoryMiB,
    cpus: run.cpus,
    domainIndex: pid & 0x7fff,
  });
}

const CONSOLE_TAIL_BYTES = 8192;

/**
 * Runs a xen image with `xl create -c`: xl starts the domain and stays attached to its PV
 * console (hvc0), which is also where the shim writes KILN-START/KILN-EXIT; the console ends
 * when the shim powers the domain off (on_poweroff = "destroy"). A stop asks the domain to
 * shut down (`xl shutdown`), a kill, a timeout or a stop that takes too long destroys it.
 * Written against xl.cfg(5) and xl(1); never run here (no dom0 on the machine that built it).
 */
export async function runWithXl(ctx: Context, xl: XlRun): Promise<XlResult> {
  const program = await requireProgram('xl', ctx.env);
  const { name, text } = instanceXlConfig(xl, process.pid);
  const configPath = join(xl.runDir, 'xl.cfg');
  await writeFile(configPath, text);
  const started = Date.now();
  const timings: XlResult['timings'] = { exitMs: 0 };
  let output = '';
  const child = spawn(program, ['create', '-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) ctx.reporter.emit({ type: 'vm-started', pid: child.pid, argv: [program, 'create', '-c', configPath], domain: name });
  const onOutput = (chunk: Buffer) => {
    timings.firstOutputMs ??= Date.now() - started;
    xl.console?.write(chunk);
    output = (output + chunk.toString('utf8')).slice(-CONSOLE_TAIL_BYTES * 4);
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const destroy = () => run(program, ['destroy', name]).catch(() => undefined);
  let forced: 'timeout' | 'stop' | 'kill' | undefined;
  const timers: NodeJS.Timeout[] = [];
  const onStop = () => {
    forced ??= 'stop';
    void run(program, ['shutdown', name]).catch(() => undefined);
    timers.push(setTimeout(() => void destroy(), xl.stopTimeoutSeconds * 1000));
  };
  const onKill = () => {
    forced = 'kill';
    void destroy();
  };
  xl.stopSignal?.addEventListener('abort', onStop, { once: true });
  xl.killSignal?.addEventListener('abort', onKill, { once: true });
  if (xl.timeoutSeconds !== undefined) {
    timers.push(setTimeout(() => {
      forced = 'timeout';
      void destroy();
    }, xl.timeoutSeconds * 1000));
  }
  const end = await new Promise<ProcessEnd | undefined>((resolve) => {
    child.on('error', () => resolve(undefined));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  for (const timer of timers) clearTimeout(timer);
  xl.stopSignal?.removeEventListener('abort', onStop);
  xl.killSignal?.removeEventListener('abort', onKill);
  // The console can end while the domain lives on (xl killed, console detached): never leave it behind.
  await destroy();
  timings.exitMs = Date.now() - started;
  const status = parseStatus(output);
  const report: ExitReport = status.exit
    ? status.exit
    : forced === 'timeout'
      ? { kind: 'timeout', seconds: xl.timeoutSeconds! }
      : forced
        ? { kind: 'stopped', forced: forced === 'kill' }
        : { kind: 'crashed', message: `${end ? describeProcessEnd('xl create', end) : 'xl create could not be started'} and the guest wrote no exit status` };
  return { report, timings, consoleTail: output.slice(-CONSOLE_TAIL_BYTES) };
}

/**
 * The xl engine: `kiln launch` of a xen image on a dom0. The instance's runtime archive is
 * appended to the image's initrd (status on hvc0, power-off at the end) and xl boots it with a
 * per-instance xl.cfg. The plan has checked that this host is a dom0 and that the config can
 * be carried.
 */
export const xlEngine: Engine = {
  kind: 'xl',
  async run(ctx: Context, plan: LaunchPlan, control: RunControl): Promise<EngineResult> {
    const runDir = await createRunDir(plan.image, plan.records, plan.config, control.runDirParent);
    try {
      return await runWithXl(ctx, {
        image: plan.image,
        config: plan.config,
        ramdiskPath: runDir.initrdPath,
        runDir: runDir.dir,
        memoryMiB: plan.memoryMiB,
        cpus: plan.cpus,
        stopTimeoutSeconds: control.stopTimeoutSeconds,
        ...(control.console ? { console: control.console } : {}),
        ...(control.timeoutSeconds !== undefined ? { timeoutSeconds: control.timeoutSeconds } : {}),
        ...(control.stopSignal ? { stopSignal: control.stopSignal } : {}),
        ...(control.killSignal ? { killSignal: control.killSignal } : {}),
      });
    } finally {
      await runDir.remove();
    }
  },
};
