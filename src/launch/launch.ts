import type { Writable } from 'node:stream';
import { parseRuntimeConfig, type RuntimeConfig, type Volume } from '../config/runtime.js';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { ExitReport } from '../events.js';
import { loadImage } from '../image/manifest.js';
import { runtimeConfRecords } from '../init/contract.js';
import { assertTargetCarries } from '../targets/carry.js';
import { hostTscKhz } from '../targets/host.js';
import { firmwareFor, prepareUefiBoot, type FirmwareChoice } from '../targets/efi/boot.js';
import { toArgv, type HostForward } from '../targets/qemu/options.js';
import { assertLaunchable, getTarget, qemuMachineOptions } from '../targets/registry.js';
import { ARCHS } from '../targets/arch.js';
import { resolveAccel, type AccelChoice, type AccelDecision } from './accel.js';
import { assertPortsFree } from './ports.js';
import { createRunDir } from './rundir.js';
import { exitCodeFor } from './status.js';
import { runVm, type VmResult } from './vm.js';
import { prepareVolumes } from '../volumes/image.js';
import { xenDefaultConfig } from '../targets/xen/image.js';
import { launchWithXl } from './engines/xl.js';

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
  /** bios boots the kernel directly; uefi boots a UKI under OVMF. Default: what the image's target needs. */
  firmware?: FirmwareChoice;
  network?: 'user' | 'none';
  ports?: HostForward[];
  /**
   * NICs on existing host tap devices, after the user-mode NIC (if any): the guest sees them as
   * eth0, eth1, … in that order. Each is configured by the shim, statically or by DHCP.
   */
  taps?: TapRequest[];
  /** Name servers for the guest; the user-mode network's 10.0.2.3 is used when none are given. */
  dns?: string[];
  /** Volumes, appended to the config's. */
  volumes?: Volume[];
  /** Where images made from host directories are kept (and reused); default: the temporary run directory. */
  volumeImageDir?: string;
  /** Where the per-run directory (initrd, status file, QMP socket) is made; default: the system temp dir. */
  runDirParent?: string;
  /** QEMU writes the console to this file instead of `console`. */
  consoleLogPath?: string;
  timeoutSeconds?: number;
  stopTimeoutSeconds?: number;
  console?: Writable;
  /** Aborting asks the guest to shut down (ACPI power button → SIGTERM to the app). */
  stopSignal?: AbortSignal;
  /** Aborting kills the VM at once. */
  killSignal?: AbortSignal;
  verbose?: boolean;
  gdb?: { address: string; port: number };
}

export interface TapRequest {
  /** Host tap device, e.g. kiln0; it must exist and be usable by the user running kiln. */
  ifname: string;
  address?: string;
  gateway?: string;
  dhcp?: boolean;
  mtu?: number;
}

export interface LaunchResult {
  report: ExitReport;
  exitCode: number;
  /** QEMU's accelerator; absent for a xen image, which Xen's hypervisor runs. */
  accel?: AccelDecision;
  timings: VmResult['timings'];
  consoleTail: string;
}

/** QEMU's user-mode network: the guest is 10.0.2.15, the host-side gateway and DNS are fixed. */
const USER_NET = { address: '10.0.2.15/24', gateway: '10.0.2.2', dns: '10.0.2.3' };

export async function launch(ctx: Context, request: LaunchRequest): Promise<LaunchResult> {
  const image = await loadImage(request.imageDir);
  const target = getTarget(image.manifest.target, image.manifest.arch);
  const platform = await assertLaunchable(target);
  const firmware = firmwareFor(target, request.firmware);
  const { minimumMiB, defaultMiB } = image.manifest.memory;
  const memoryMiB = request.memoryMiB ?? defaultMiB;
  if (memoryMiB < minimumMiB) {
    throw new KilnError(ErrorCodes.MEMORY_TOO_SMALL, `${memoryMiB} MiB is not enough to boot this image (it needs at least ${minimumMiB} MiB)`, {
      hint: `use -m ${minimumMiB}M or more (the default for this image is ${defaultMiB}M); the kernel alone unpacks to ${Math.ceil(image.manifest.kernel.initSize / 1048576)} MiB`,
    });
  }
  const cpus = request.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) throw new KilnError(ErrorCodes.USAGE, `--cpus ${cpus} must be a whole number from 1 to 64`);

  if (platform.kind === 'xl') {
    // Xen guests attach to the dom0 bridge (DHCP on eth0 unless --net none); there are no user-mode forwards or taps.
    const { config } = composeRuntimeConfig({ ...request, network: 'none', ports: [], taps: [] });
    assertTargetCarries(target, { userNetwork: (request.ports?.length ?? 0) > 0, taps: request.taps?.length ?? 0, volumes: config.volumes?.length ?? 0 });
    return launchWithXl(ctx, image, request.network === 'none' || request.config?.network ? config : { ...config, network: xenDefaultConfig().network! }, { ...request, memoryMiB, cpus });
  }
  const { config, networkKind, ports, taps } = composeRuntimeConfig(request);
  assertTargetCarries(target, { userNetwork: networkKind === 'user', taps: taps.length, volumes: config.volumes?.length ?? 0 });
  await assertPortsFree(ports);

  const accel = await resolveAccel(ctx, request.accel ?? 'auto', image);
  ctx.reporter.emit({ type: 'accel', accel: accel.accel, reason: accel.reason, cached: accel.cached });

  const records = runtimeConfRecords(
    { path: image.manifest.app.guestPath, args: image.manifest.app.args, env: image.manifest.app.env, ...(image.manifest.app.workdir ? { workdir: image.manifest.app.workdir } : {}) },
    config,
    { statusDevice: target.statusDevice, exit: target.exit, ...(target.powerGpio ? { powerGpio: target.powerGpio } : {}) },
  );
  const runDir = await createRunDir(image, records, config, request.runDirParent);
  try {
    const drives = await prepareVolumes(config.volumes ?? [], request.volumeImageDir ?? runDir.dir);
    for (const drive of drives) {
      if (drive.kind === 'copy' && !drive.readOnly && request.volumeImageDir === undefined) {
        ctx.reporter.emit({
          type: 'warning',
          code: 'KILN_VOLUME_IS_A_COPY',
          message: `volume ${drive.target} is a copy of the host directory; what the app writes there is discarded when the VM ends`,
          hint: 'use an image file (-v FILE.img:PATH) or a detached instance (-d) to keep writes',
        });
      }
    }
    const uefi = firmware === 'uefi' ? await prepareUefiBoot(image, runDir.dir, runDir.initrdPath) : undefined;
    const argv = toArgv(
      qemuMachineOptions(target, {
        ...(uefi ? { uefi } : {}),
        kernelPath: image.kernelPath,
        ...(image.hypervisorPath ? { hypervisorPath: image.hypervisorPath } : {}),
        initrdPath: runDir.initrdPath,
        cmdline: image.manifest.cmdline,
        memoryMiB,
        cpus,
        accel: accel.accel,
        hostTscKhz: await hostTscKhz(),
        network: networkKind === 'user' ? { kind: 'user', forwards: ports } : { kind: 'none' },
        taps: taps.map((tap) => ({ ifname: tap.ifname })),
        drives: drives.map((drive) => ({ path: drive.path, readOnly: drive.readOnly, serial: drive.serial })),
        ...(request.consoleLogPath ? { consoleLogPath: request.consoleLogPath } : {}),
        statusPath: runDir.statusPath,
        qmpSocketPath: runDir.qmpSocketPath,
        ...(request.gdb ? { gdb: request.gdb } : {}),
      }),
    );
    const result = await runVm(ctx, {
      qemu: ARCHS[target.arch].qemu,
      argv,
      accel: accel.accel,
      statusPath: runDir.statusPath,
      qmpSocketPath: runDir.qmpSocketPath,
      ...(request.console && !request.consoleLogPath ? { console: request.console } : {}),
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

/**
 * The instance's runtime config: the --config document with the flags laid over it, and the
 * guest side of the network (user-mode NIC first, then taps, named eth0, eth1, …). Pure.
 */
export function composeRuntimeConfig(request: Omit<LaunchRequest, 'imageDir'>): {
  config: RuntimeConfig;
  networkKind: 'user' | 'none';
  ports: HostForward[];
  taps: TapRequest[];
} {
  const networkKind = request.network ?? 'user';
  const ports = request.ports ?? [];
  if (networkKind === 'none' && ports.length > 0) {
    throw new KilnError(ErrorCodes.USAGE, 'port forwarding needs a network, but --net none was given', { hint: 'drop --net none or the -p options' });
  }
  const base = request.config ?? {};
  const taps = request.taps ?? [];
  const interfaces = [
    ...(networkKind === 'user' ? [{ name: 'eth0', address: USER_NET.address, gateway: USER_NET.gateway }] : []),
    ...taps.map(({ ifname: _host, ...guest }) => guest),
  ].map((iface, index) => ({ ...iface, name: `eth${index}` }));
  const dns = request.dns ?? (networkKind === 'user' ? [USER_NET.dns] : []);
  const volumes = [...(base.volumes ?? []), ...(request.volumes ?? [])];
  const config = parseRuntimeConfig({
    version: 1,
    ...base,
    ...(request.args ? { args: request.args } : {}),
    ...(request.env || base.env ? { env: { ...base.env, ...request.env } } : {}),
    ...(request.hostname ? { hostname: request.hostname } : {}),
    ...(!base.network && (interfaces.length > 0 || dns.length > 0) ? { network: { interfaces, dns } } : {}),
    ...(volumes.length > 0 ? { volumes } : {}),
    ...(request.verbose ? { verbose: true } : {}),
  });
  return { config, networkKind, ports, taps };
}
