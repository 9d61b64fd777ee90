import type { Writable } from 'node:stream';
import type { Context } from '../context.js';
import type { ExitReport } from '../events.js';
import type { LaunchPlan } from './plan.js';
import type { EngineKind } from './types.js';

/**
 * An engine applies a launch plan (src/launch/plan.ts): it makes what the run needs (a run
 * directory with the instance's initrd, volume images, a per-instance UKI or xl.cfg), starts
 * the VM, streams its console, honours stop, kill and timeout, collects the guest's exit report
 * and removes what it made. One `run` per boot: a detached instance's supervisor calls launch
 * in its own process exactly as a foreground `kiln launch` does, so instances need nothing
 * more of an engine than the typed `vm-started` event it emits (pid, control socket, domain).
 *
 * Engines today: QEMU (src/launch/engines/qemu.ts) and Xen's xl (engines/xl.ts). A libvirt
 * engine is the same shape: define + start the domain, stream its console, wait for it to
 * shut off, read the status channel, undefine; stop is `virsh shutdown`, kill `virsh destroy`.
 */
export interface Engine {
  readonly kind: EngineKind;
  run(ctx: Context, plan: LaunchPlan, control: RunControl): Promise<EngineResult>;
}

/** How one run is driven and where its files and console go: not part of the plan (not decisions). */
export interface RunControl {
  /** Where the guest console goes, unless it is written to `consoleLogPath`. */
  console?: Writable;
  /** A file the console is appended to (detached instances). */
  consoleLogPath?: string;
  /** Where the per-run directory is made; default: the system temp dir. */
  runDirParent?: string;
  /** Where images made from host directories are kept (and reused); default: the run directory. */
  volumeImageDir?: string;
  timeoutSeconds?: number;
  /** How long a graceful stop may take before the VM is killed. */
  stopTimeoutSeconds: number;
  /** Aborting asks the guest to shut down (power button → SIGTERM to the app). */
  stopSignal?: AbortSignal;
  /** Aborting kills the VM at once. */
  killSignal?: AbortSignal;
}

export interface EngineResult {
  report: ExitReport;
  /** Milliseconds from start to the first console byte and to the VM's end. */
  timings: { firstOutputMs?: number; exitMs: number };
  consoleTail: string;
}
