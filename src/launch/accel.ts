import { access, constants, readFile, stat } from 'node:fs/promises';
import { hostname, release } from 'node:os';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { ErrorCodes, isKilnError } from '../errors.js';
import type { LoadedImage } from '../image/manifest.js';
import { GUEST_INIT, runtimeConfRecords } from '../init/contract.js';
import { toArgv } from '../targets/qemu/options.js';
import { getTarget, qemuMachineOptions, qemuTarget } from '../targets/registry.js';
import { ARCHS, DEFAULT_ARCH, getArch, kvmPossibleFor, type Arch } from '../arch.js';
import { chooseAccel, type KvmFacts } from './plan.js';
import type { AccelChoice, AccelDecision } from './types.js';
import { run } from '../util/exec.js';
import { canonicalJson, sha256, writeFileAtomically } from '../util/fs.js';
import { createRunDir } from './rundir.js';
import { runVm } from './vm.js';

export type { AccelChoice, AccelDecision } from './types.js';

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

/**
 * What the accelerator choice needs to know about KVM here (src/launch/plan.ts decides):
 * whether /dev/kvm opens, and for `auto` the cached verdict of an earlier probe boot. Nothing
 * is looked at that the choice does not need (--accel tcg, or a guest of another architecture).
 */
export async function gatherKvmFacts(ctx: Context, choice: AccelChoice, arch: Arch): Promise<KvmFacts> {
  if (choice === 'tcg' || !kvmPossibleFor(arch)) return {};
  const problem = await kvmDeviceProblem(kvmDevice(ctx));
  if (problem) return { deviceProblem: problem };
  if (choice === 'kvm') return {};
  const { hostKey, verdictPath } = await verdictLocation(ctx, arch);
  const previous = await readVerdict(verdictPath);
  if (previous && previous.hostKey === hostKey && Date.now() - Date.parse(previous.probedAt) < VERDICT_MAX_AGE_MS) {
    return { verdict: { usable: previous.usable, reason: previous.reason, cached: true } };
  }
  return {};
}

/** Boots the KVM probe for this host and records its verdict (cached for a week). */
export async function probeKvmVerdict(ctx: Context, image: LoadedImage): Promise<NonNullable<KvmFacts['verdict']>> {
  const { hostKey, verdictPath } = await verdictLocation(ctx, getArch(image.manifest.arch).name);
  ctx.reporter.emit({ type: 'step', step: 'accel', message: `probing KVM with a ${PROBE_LIMIT_SECONDS}s test boot (result is cached)` });
  const verdict: Verdict = { ...(await probeKvm(ctx, image)), probedAt: new Date().toISOString(), hostKey };
  await writeFileAtomically(verdictPath, canonicalJson(verdict));
  return { usable: verdict.usable, reason: verdict.reason, cached: false };
}

/** The accelerator for `choice` on this host: the facts, the probe boot when `auto` needs one, and the pure choice. */
export async function resolveAccel(ctx: Context, choice: AccelChoice, image: LoadedImage): Promise<AccelDecision> {
  // Some callers decide before any image exists and pass none: they get the x86_64 answer.
  const arch = getArch((image as LoadedImage | undefined)?.manifest.arch ?? DEFAULT_ARCH).name;
  const host = { arch: process.arch, kvm: await gatherKvmFacts(ctx, choice, arch) };
  const decision = chooseAccel(choice, arch, host);
  if (decision !== 'probe') return decision;
  const verdict = await probeKvmVerdict(ctx, image);
  return chooseAccel(choice, arch, { ...host, kvm: { verdict } }) as AccelDecision;
}

/** KILN_KVM_DEVICE lets tests point the device check elsewhere; QEMU itself still opens /dev/kvm. */
function kvmDevice(ctx: Context): string {
  return ctx.env.KILN_KVM_DEVICE ?? '/dev/kvm';
}

async function verdictLocation(ctx: Context, arch: Arch): Promise<{ hostKey: string; verdictPath: string }> {
  const qemuVersion = (await run(ARCHS[arch].qemu, ['--version'])).stdout.split('\n')[0] ?? '';
  const hostKey = sha256([hostname(), release(), qemuVersion, await cpuModel(), String((await stat(kvmDevice(ctx))).rdev)].join('\n'));
  return { hostKey, verdictPath: join(ctx.paths.cache, 'accel', `${hostKey}.json`) };
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
