import type { Writable } from 'node:stream';
import type { RuntimeConfig, Volume } from '../config/runtime.js';
import type { ExitReport } from '../events.js';
import type { FirmwareChoice } from '../targets/efi/boot.js';
import type { HostForward } from '../targets/qemu/options.js';

/** --accel: auto probes KVM once per host (src/launch/accel.ts); kvm and tcg are taken as asked. */
export type AccelChoice = 'auto' | 'kvm' | 'tcg';

export interface AccelDecision {
  accel: 'kvm' | 'tcg';
  reason: string;
  cached: boolean;
}

/**
 * The engines that can run an image: QEMU (kiln's own), Xen's `xl` on a dom0, and libvirt (a
 * domain; so far only `kiln export --libvirt` plans for it, no engine runs it yet).
 */
export type EngineKind = 'qemu' | 'xl' | 'libvirt';

/** What one `kiln launch` asks for, as the CLI or a library user gives it. */
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
  timings: { firstOutputMs?: number; exitMs: number };
  consoleTail: string;
}
