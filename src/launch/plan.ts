import { parseRuntimeConfig, type RuntimeConfig } from '../config/runtime.js';
import type { WireRecord } from '../config/wire.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { LoadedImage } from '../image/manifest.js';
import { appDefaults, runtimeConfRecords, type ExitMethod } from '../init/contract.js';
import { kvmPossibleFor } from '../arch.js';
import { assertTargetCarries } from '../targets/carry.js';
import { firmwareFor, type FirmwareChoice } from '../targets/efi/boot.js';
import type { PlatformProbe } from '../targets/probe.js';
import type { HostForward } from '../targets/qemu/options.js';
import { getTarget } from '../targets/registry.js';
import type { MachineRequest, NetworkKind, Platform, Target } from '../targets/types.js';
import type { AccelChoice, AccelDecision, EngineKind, LaunchRequest, TapRequest } from './types.js';

/**
 * What launch knows about this host before it plans, gathered by `gatherHostFacts`
 * (src/launch/host-facts.ts); a plain value, so planLaunch stays pure and unit-testable.
 */
export interface HostFacts {
  /** The host's CPU architecture as Node names it (KVM only runs guests of the same one). */
  arch: NodeJS.Architecture;
  kvm: KvmFacts;
  /** The host's TSC frequency in kHz, when it can be told (src/targets/host.ts). */
  tscKhz?: number;
  /**
   * What probing the image's platform found, for platforms other than QEMU (xl needs a dom0).
   * QEMU itself is not probed before a launch: a missing QEMU is named when it is started.
   */
  platform?: PlatformProbe;
}

export interface KvmFacts {
  /** Why /dev/kvm cannot be used here ("this host has no /dev/kvm"); absent when it opens. */
  deviceProblem?: string;
  /** The KVM probe boot's verdict for this host, when there is one (cached for a week). */
  verdict?: { usable: boolean; reason: string; cached: boolean };
}

/** What an engine can attach, where it is narrower than the target (libvirt: its own networks, no volumes yet). */
interface EngineTraits {
  networks?: readonly NetworkKind[];
  volumes: boolean;
  /** How the shim ends the VM under this engine, when not the target's own way. */
  exit?: ExitMethod;
}

const ENGINE_TRAITS: Record<EngineKind, EngineTraits> = {
  qemu: { volumes: true },
  xl: { volumes: true },
  // libvirt's QEMU turns an isa-debug-exit into a crash report; powering off is the clean end.
  // Its NICs join libvirt networks (DHCP), which the runtime config sees as bridges.
  libvirt: { networks: ['bridge'], volumes: false, exit: { kind: 'poweroff' } },
};

/**
 * Everything one launch will do, decided before anything is started: the engine that runs
 * it, the machine (memory, CPUs, accelerator, firmware), the guest's runtime config and the
 * records the shim reads, and the host-side network attachments. Engines apply it.
 */
export interface LaunchPlan {
  image: LoadedImage;
  target: Target;
  engine: EngineKind;
  /** The platform of the target that runs it (QEMU's machine, or xl). */
  platform: Platform;
  firmware: FirmwareChoice;
  memoryMiB: number;
  cpus: number;
  /**
   * QEMU's accelerator. Absent for engines without one (xl) and while `needsKvmProbe` is set:
   * then launch boots the KVM probe and plans again with its verdict.
   */
  accel?: AccelDecision;
  needsKvmProbe?: true;
  /** The instance's runtime config (also handed to the guest as JSON) and the records the shim reads. */
  config: RuntimeConfig;
  records: WireRecord[];
  /** QEMU's user-mode NIC with its port forwards, or none. */
  network: MachineRequest['network'];
  /** NICs on existing host tap devices, after the user-mode one. */
  taps: { ifname: string }[];
  hostTscKhz?: number;
  gdb?: { address: string; port: number };
}

/** What planLaunch reads of a request: the request without its streams, signals and run-time paths. */
export type PlanRequest = Omit<LaunchRequest, 'imageDir' | 'console' | 'stopSignal' | 'killSignal' | 'consoleLogPath' | 'runDirParent' | 'volumeImageDir' | 'timeoutSeconds' | 'stopTimeoutSeconds'> & {
  /** Plan for another engine than the target's own platform (libvirt export). */
  engine?: EngineKind;
};

const MAX_CPUS = 64;

/**
 * Plans one launch of `image`. Pure: every refusal a launch can make before it starts
 * something is made here, from the request and the host facts, in a fixed order (platform,
 * firmware, memory, CPUs, runtime config, what the target carries, accelerator).
 */
export function planLaunch(image: LoadedImage, request: PlanRequest, host: HostFacts): LaunchPlan {
  const target = getTarget(image.manifest.target, image.manifest.arch);
  const platform = target.platforms[0]!;
  const engine = request.engine ?? launchEngine(target, platform, host.platform);
  const traits = ENGINE_TRAITS[engine];
  const firmware = firmwareFor(target, request.firmware);
  const memoryMiB = planMemory(image, request.memoryMiB);
  const cpus = request.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) throw new KilnError(ErrorCodes.USAGE, `--cpus ${cpus} must be a whole number from 1 to ${MAX_CPUS}`);

  const networks = traits.networks ?? target.networks;
  let config: RuntimeConfig;
  let network: LaunchPlan['network'];
  let taps: TapRequest[];
  if (networks.includes('user')) {
    const composed = composeRuntimeConfig(request);
    config = composed.config;
    network = composed.networkKind === 'user' ? { kind: 'user', forwards: composed.ports } : { kind: 'none' };
    taps = composed.taps;
    assertTargetCarries({ ...target, networks }, { userNetwork: composed.networkKind === 'user', taps: taps.length, volumes: config.volumes?.length ?? 0 });
  } else {
    // A bridged guest (Xen's dom0 bridge, a libvirt network) has no user-mode forwards or taps;
    // its default network is DHCP on eth0, unless --net none or the config says otherwise.
    const { config: composed } = composeRuntimeConfig({ ...request, network: 'none', ports: [], taps: [] });
    assertTargetCarries({ ...target, networks }, { userNetwork: (request.ports?.length ?? 0) > 0, taps: request.taps?.length ?? 0, volumes: composed.volumes?.length ?? 0 });
    config = request.network === 'none' || request.config?.network ? composed : { ...composed, network: BRIDGED_DEFAULT_NETWORK };
    network = { kind: 'none' };
    taps = [];
  }
  if (!traits.volumes && (config.volumes ?? []).length > 0) {
    throw new KilnError(ErrorCodes.TARGET_CANNOT_CARRY, `the ${engine} engine cannot carry volumes yet`, {
      hint: engine === 'libvirt' ? 'add the disks with `virsh attach-disk` and drop them from the runtime config' : 'drop the volumes from the runtime config',
    });
  }

  const records = runtimeConfRecords(appDefaults(image.manifest), config, {
    statusDevice: target.statusDevice,
    exit: traits.exit ?? target.exit,
    ...(target.powerGpio ? { powerGpio: target.powerGpio } : {}),
  });
  const accel = engine === 'qemu' ? chooseAccel(request.accel ?? 'auto', target.arch, host) : undefined;
  return {
    image,
    target,
    engine,
    platform,
    firmware,
    memoryMiB,
    cpus,
    ...(accel === 'probe' ? { needsKvmProbe: true as const } : accel ? { accel } : {}),
    config,
    records,
    network,
    taps: taps.map((tap) => ({ ifname: tap.ifname })),
    ...(host.tscKhz !== undefined ? { hostTscKhz: host.tscKhz } : {}),
    ...(request.gdb ? { gdb: request.gdb } : {}),
  };
}

/**
 * The network a bridged guest gets by default: DHCP on eth0 (a static address would have to be
 * guessed), best effort, as nobody asked for it (src/targets/xen/image.ts xenDefaultConfig).
 */
export const BRIDGED_DEFAULT_NETWORK: NonNullable<RuntimeConfig['network']> = { interfaces: [{ name: 'eth0', dhcp: true, optional: true }], dns: [] };

/**
 * The engine of the target's first platform, refused with every reason when it cannot run
 * here (no dom0 for xl). Firecracker is never started by kiln (it needs KVM and its own set-up).
 */
function launchEngine(target: Target, platform: Platform, probe: PlatformProbe | undefined): EngineKind {
  if (platform.kind === 'qemu') return 'qemu';
  if (probe && !probe.usable) {
    const what = probe.reasons.some((reason) => /dom0/.test(reason)) ? 'no Xen dom0' : `${platform.kind} cannot run here`;
    throw new KilnError(ErrorCodes.PLATFORM_UNAVAILABLE, `a ${target.name} image cannot be launched on this host: ${what}`, {
      details: probe.reasons,
      hint: `${target.name} images run with ${platform.kind}; bake the app with --target qemu or microvm to run it here`,
    });
  }
  if (platform.kind === 'xl') return 'xl';
  throw new KilnError(ErrorCodes.PLATFORM_UNAVAILABLE, `kiln does not start ${platform.kind} itself`, {
    hint: `start it with ${platform.kind} using the files in the image directory (firecracker.json)`,
  });
}

/** The guest's memory: the image's default, or what was asked if the image can boot in it. */
export function planMemory(image: Pick<LoadedImage, 'manifest'>, asked: number | undefined): number {
  const { minimumMiB, defaultMiB } = image.manifest.memory;
  const memoryMiB = asked ?? defaultMiB;
  if (memoryMiB < minimumMiB) {
    throw new KilnError(ErrorCodes.MEMORY_TOO_SMALL, `${memoryMiB} MiB is not enough to boot this image (it needs at least ${minimumMiB} MiB)`, {
      hint: `use -m ${minimumMiB}M or more (the default for this image is ${defaultMiB}M); the kernel alone unpacks to ${Math.ceil(image.manifest.kernel.initSize / 1048576)} MiB`,
    });
  }
  return memoryMiB;
}

/**
 * The accelerator, given what was asked and what is known of KVM here. 'probe' means KVM may
 * work and no verdict exists yet: launch boots the probe (src/launch/accel.ts) and asks again.
 */
export function chooseAccel(choice: AccelChoice, guestArch: Target['arch'], host: Pick<HostFacts, 'arch' | 'kvm'>): AccelDecision | 'probe' {
  if (choice === 'tcg') return { accel: 'tcg', reason: 'requested with --accel tcg', cached: false };
  // KVM runs guests of the host's own CPU architecture only: an aarch64 image on x86_64 is TCG.
  if (!kvmPossibleFor(guestArch, host.arch)) {
    const why = `this is an ${guestArch} image and the host is ${host.arch}: KVM only runs guests of the host's own architecture`;
    if (choice === 'kvm') throw new KilnError(ErrorCodes.ACCEL_UNAVAILABLE, `KVM was requested but ${why}`, { hint: 'use --accel tcg (or auto)' });
    return { accel: 'tcg', reason: `${why}, so using TCG`, cached: false };
  }
  const problem = host.kvm.deviceProblem;
  if (choice === 'kvm') {
    if (problem) {
      throw new KilnError(ErrorCodes.ACCEL_UNAVAILABLE, `KVM was requested but ${problem}`, {
        hint: 'use --accel tcg (software emulation), or load the kvm module and give this user access to /dev/kvm',
      });
    }
    return { accel: 'kvm', reason: 'requested with --accel kvm', cached: false };
  }
  if (problem) return { accel: 'tcg', reason: `${problem}, so using TCG`, cached: false };
  const verdict = host.kvm.verdict;
  if (!verdict) return 'probe';
  return verdict.usable
    ? { accel: 'kvm', reason: verdict.reason, cached: verdict.cached }
    : { accel: 'tcg', reason: `KVM is present but not usable: ${verdict.reason}; using TCG`, cached: verdict.cached };
}

/** QEMU's user-mode network: the guest is 10.0.2.15, the host-side gateway and DNS are fixed. */
const USER_NET = { address: '10.0.2.15/24', gateway: '10.0.2.2', dns: '10.0.2.3' };

/**
 * The instance's runtime config: the --config document with the flags laid over it, and the
 * guest side of the network (user-mode NIC first, then taps, named eth0, eth1, …). Pure.
 */
export function composeRuntimeConfig(request: Omit<PlanRequest, 'engine'>): {
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
