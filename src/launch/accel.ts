import { access, constants, readFile, stat } from 'node:fs/promises';
import { hostname, release } from 'node:os';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes, isKilnError } from '../errors.js';
import type { LoadedImage } from '../image/manifest.js';
import { GUEST_INIT, runtimeConfRecords } from '../init/contract.js';
import { toArgv } from '../targets/qemu/options.js';
import { getTarget, qemuMachineOptions, qemuTarget } from '../targets/registry.js';
import { ARCHS, DEFAULT_ARCH, getArch, kvmPossibleFor } from '../targets/arch.js';
import { run } from '../util/exec.js';
import { canonicalJson, sha256, writeFileAtomically } from '../util/fs.js';
import { createRunDir } from './rundir.js';
import { runVm } from './vm.js';

export type AccelChoice = 'auto' | 'kvm' | 'tcg';
export interface AccelDecision {
  accel: 'kvm' | 'tcg';
  reason: string;
  cached: boolean;
}

/**
 * A healthy KVM boots the stock kernel to the shim in well under a second, and TCG in about
 * one and a half; a KVM that needs longer than this is slower than emulation (a software
 * nested-virtualisation stand-in crawls, then dies), so `auto` prefers TCG.
 */
const PROBE_LIMIT_SECONDS = 6;
const VERDICT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

interface Verdict {
  usable: boolean;
  reason: string;
  probedAt: string;
  hostKey: string;
}

export async function resolveAccel(ctx: Context, choice: AccelChoice, image: LoadedImage): Promise<AccelDecision> {
  if (choice === 'tcg') return { accel: 'tcg', reason: 'requested with --accel tcg', cached: false };
  // KVM runs guests of the host's own CPU architecture only: an aarch64 image on x86_64 is TCG.
  // (Some callers decide before any image exists and pass none: they get the x86_64 answer.)
  const arch = getArch((image as LoadedImage | undefined)?.manifest.arch ?? DEFAULT_ARCH);
  if (!kvmPossibleFor(arch.name)) {
    const why = `this is an ${arch.name} image and the host is ${process.arch}: KVM only runs guests of the host's own architecture`;
    if (choice === 'kvm') throw new KilnError(ErrorCodes.ACCEL_UNAVAILABLE, `KVM was requested but ${why}`, { hint: 'use --accel tcg (or auto)' });
    return { accel: 'tcg', reason: `${why}, so using TCG`, cached: false };
  }
  // KILN_KVM_DEVICE lets tests point the device check elsewhere; QEMU itself still opens /dev/kvm.
  const kvmDevice = ctx.env.KILN_KVM_DEVICE ?? '/dev/kvm';
  const kvmProblem = await kvmDeviceProblem(kvmDevice);
  if (choice === 'kvm') {
    if (kvmProblem) {
      throw new KilnError(ErrorCodes.ACCEL_UNAVAILABLE, `KVM was requested but ${kvmProblem}`, {
        hint: 'use --accel tcg (software emulation), or load the kvm module and give this user access to /dev/kvm',
      });
    }
    return { accel: 'kvm', reason: 'requested with --accel kvm', cached: false };
  }
  if (kvmProblem) return { accel: 'tcg', reason: `${kvmProblem}, so using TCG`, cached: false };

  const qemuVersion = (await run(arch.qemu, ['--version'])).stdout.split('\n')[0] ?? '';
  const hostKey = sha256([hostname(), release(), qemuVersion, await cpuModel(), String((await stat(kvmDevice)).rdev)].join('\n'));
  const verdictPath = join(ctx.paths.cache, 'accel', `${hostKey}.json`);
  const previous = await readVerdict(verdictPath);
  let verdict: Verdict;
  let cached = false;
  if (previous && previous.hostKey === hostKey && Date.now() - Date.parse(previous.probedAt) < VERDICT_MAX_AGE_MS) {
    verdict = previous;
    cached = true;
  } else {
    ctx.reporter.emit({ type: 'step', step: 'accel', message: `probing KVM with a ${PROBE_LIMIT_SECONDS}s test boot (result is cached)` });
    verdict = { ...(await probeKvm(ctx, image)), probedAt: new Date().toISOString(), hostKey };
    await writeFileAtomically(verdictPath, canonicalJson(verdict));
  }
  const decision: AccelDecision = verdict.usable
    ? { accel: 'kvm', reason: verdict.reason, cached }
    : { accel: 'tcg', reason: `KVM is present but not usable: ${verdict.reason}; using TCG`, cached };
  return decision;
}

async function kvmDeviceProblem(device: string): Promise<string | undefined> {
  try {
    await access(device, constants.R_OK | constants.W_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'this host has no /dev/kvm' : 'this user cannot open /dev/kvm';
  }
}

async function cpuModel(): Promise<string> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  return cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown';
}

async function readVerdict(path: string): Promise<Verdict | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Verdict;
  } catch {
    return undefined;
  }
}

/** Boots the image's own kernel and shim under KVM with a trivial app: the shim's --version. */
async function probeKvm(ctx: Context, image: LoadedImage): Promise<{ usable: boolean; reason: string }> {
  // UEFI images (efi, disk) carry a bzImage too: the probe boots it directly, skipping the firmware.
  const imageTarget = getTarget(image.manifest.target, image.manifest.arch);
  const uefi = imageTarget.platforms[0]?.kind === 'qemu' && imageTarget.platforms[0].firmware === 'uefi';
  const target = uefi ? qemuTarget : imageTarget;
  const records = runtimeConfRecords({ path: GUEST_INIT, args: ['--version'], env: {} }, { version: 1 }, {
    statusDevice: target.statusDevice,
    exit: target.exit,
  });
  const runDir = await createRunDir(image, records, { version: 1, probe: true });
  const started = Date.now();
  try {
    const argv = toArgv(
      qemuMachineOptions(target, {
        kernelPath: image.kernelPath,
        initrdPath: runDir.initrdPath,
        cmdline: image.manifest.cmdline,
        memoryMiB: image.manifest.memory.defaultMiB,
        cpus: 1,
        accel: 'kvm',
        network: { kind: 'none' },
        consoleLogPath: `${runDir.dir}/console.log`,
        statusPath: runDir.statusPath,
        qmpSocketPath: runDir.qmpSocketPath,
      }),
    );
    const result = await runVm(ctx, {
      qemu: ARCHS[imageTarget.arch].qemu,
      argv,
      accel: 'kvm',
      statusPath: runDir.statusPath,
      qmpSocketPath: runDir.qmpSocketPath,
      timeoutSeconds: PROBE_LIMIT_SECONDS,
      stopTimeoutSeconds: 1,
    }).catch((error: unknown) => ({ error }));
    const seconds = ((Date.now() - started) / 1000).toFixed(2);
    if ('error' in result) {
      // QEMU's own words when KVM itself failed; anything else with its details.
      if (isKilnError(result.error, ErrorCodes.ACCEL_UNAVAILABLE)) return { usable: false, reason: result.error.message };
      const error = result.error as Error & { details?: string[] };
      return { usable: false, reason: `the probe VM failed (${[error.message, ...(error.details ?? [])].join('; ')})` };
    }
    if (result.report.kind === 'exited' && result.report.code === 0) return { usable: true, reason: `a KVM probe boot took ${seconds}s` };
    if (result.report.kind === 'timeout') return { usable: false, reason: `a KVM probe boot did not finish within ${PROBE_LIMIT_SECONDS}s` };
    const detail = result.report.kind === 'crashed' ? result.report.message : JSON.stringify(result.report);
    return { usable: false, reason: `a KVM probe boot failed after ${seconds}s (${detail})` };
  } finally {
    await runDir.remove();
  }
}
