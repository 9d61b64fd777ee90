import type { Writable } from 'node:stream';
import { parseRuntimeConfig, type RuntimeConfig } from '../config/runtime.js';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { ExitReport } from '../events.js';
import { loadImage } from '../image/manifest.js';
import { runtimeConfRecords } from '../init/contract.js';
import { pcMachineOptions } from '../targets/qemu/machine.js';
import { toArgv, type HostForward } from '../targets/qemu/options.js';
import { getTarget } from '../targets/registry.js';
import { resolveAccel, type AccelChoice, type AccelDecision } from './accel.js';
import { assertPortsFree } from './ports.js';
import { createRunDir } from './rundir.js';
import { exitCodeFor } from './status.js';
import { runVm, type VmResult } from './vm.js';

export interface LaunchRequest {
  imageDir: string;
  /** Runtime settings; `args`/`env`/`hostname` here win over the same fields in `config`. */
  config?: Partial<RuntimeConfig>;
  args?: string[];
  env?: Record<string, string>;
  hostname?: string;
  memoryMiB?: number;
  cpus?: number;
  accel?: AccelChoice;
  network?: 'user' | 'none';
  ports?: HostForward[];
  timeoutSeconds?: number;
  stopTimeoutSeconds?: number;
  console: Writable;
  /** Aborting asks the guest to shut down (ACPI power button → SIGTERM to the app). */
  stopSignal?: AbortSignal;
  /** Aborting kills the VM at once. */
  killSignal?: AbortSignal;
  verbose?: boolean;
  gdb?: { address: string; port: number };
}

export interface LaunchResult {
  report: ExitReport;
  exitCode: number;
  accel: AccelDecision;
  timings: VmResult['timings'];
  consoleTail: string;
}

/** QEMU's user-mode network: the guest is 10.0.2.15, the host-side gateway and DNS are fixed. */
const USER_NET = { address: '10.0.2.15/24', gateway: '10.0.2.2', dns: '10.0.2.3' };

export async function launch(ctx: Context, request: LaunchRequest): Promise<LaunchResult> {
  const image = await loadImage(request.imageDir);
  const target = getTarget(image.manifest.target);
  const { minimumMiB, defaultMiB } = image.manifest.memory;
  const memoryMiB = request.memoryMiB ?? defaultMiB;
  if (memoryMiB < minimumMiB) {
    throw new KilnError(ErrorCodes.MEMORY_TOO_SMALL, `${memoryMiB} MiB is not enough to boot this image (it needs at least ${minimumMiB} MiB)`, {
      hint: `use -m ${minimumMiB}M or more (the default for this image is ${defaultMiB}M); the kernel alone unpacks to ${Math.ceil(image.manifest.kernel.initSize / 1048576)} MiB`,
    });
  }
  const cpus = request.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) throw new KilnError(ErrorCodes.USAGE, `--cpus ${cpus} must be a whole number from 1 to 64`);

  const networkKind = request.network ?? 'user';
  const ports = request.ports ?? [];
  if (networkKind === 'none' && ports.length > 0) {
    throw new KilnError(ErrorCodes.USAGE, 'port forwarding needs a network, but --net none was given', { hint: 'drop --net none or the -p options' });
  }
  const base = request.config ?? {};
  const config = parseRuntimeConfig({
    version: 1,
    ...base,
    ...(request.args ? { args: request.args } : {}),
    ...(request.env || base.env ? { env: { ...base.env, ...request.env } } : {}),
    ...(request.hostname ? { hostname: request.hostname } : {}),
    ...(networkKind === 'user' && !base.network
      ? { network: { interfaces: [{ name: 'eth0', address: USER_NET.address, gateway: USER_NET.gateway }], dns: [USER_NET.dns] } }
      : {}),
    ...(request.verbose ? { verbose: true } : {}),
  });
  await assertPortsFree(ports);

  const accel = await resolveAccel(ctx, request.accel ?? 'auto', image);
  ctx.reporter.emit({ type: 'accel', accel: accel.accel, reason: accel.reason, cached: accel.cached });

  const records = runtimeConfRecords(
    { path: image.manifest.app.guestPath, args: image.manifest.app.args, env: image.manifest.app.env, ...(image.manifest.app.workdir ? { workdir: image.manifest.app.workdir } : {}) },
    config,
    { statusDevice: target.statusDevice, exit: target.exit },
  );
  const runDir = await createRunDir(image, records, config);
  try {
    const argv = toArgv(
      pcMachineOptions({
        kernelPath: image.kernelPath,
        initrdPath: runDir.initrdPath,
        cmdline: image.manifest.cmdline,
        memoryMiB,
        cpus,
        accel: accel.accel,
        network: networkKind === 'user' ? { kind: 'user', forwards: ports } : { kind: 'none' },
        statusPath: runDir.statusPath,
        qmpSocketPath: runDir.qmpSocketPath,
        ...(request.gdb ? { gdb: request.gdb } : {}),
      }),
    );
    const result = await runVm(ctx, {
      qemu: 'qemu-system-x86_64',
      argv,
      statusPath: runDir.statusPath,
      qmpSocketPath: runDir.qmpSocketPath,
      console: request.console,
      stopTimeoutSeconds: request.stopTimeoutSeconds ?? 10,
      ...(request.timeoutSeconds !== undefined ? { timeoutSeconds: request.timeoutSeconds } : {}),
      ...(request.stopSignal ? { stopSignal: request.stopSignal } : {}),
      ...(request.killSignal ? { killSignal: request.killSignal } : {}),
    });
    return { report: result.report, exitCode: exitCodeFor(result.report), accel, timings: result.timings, consoleTail: result.consoleTail };
  } finally {
    await runDir.remove();
  }
}
