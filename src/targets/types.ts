import type { ExitMethod } from '../init/contract.js';
import type { HostForward } from './qemu/options.js';

/**
 * A target is a typed value, not a string switch: it says which kernel components an image
 * needs, how the guest is booted, which console it talks on, how the runtime config reaches
 * it and how the shim reports the app's exit status.
 */
export interface Target {
  name: TargetName;
  description: string;
  /** Component sets (see src/components/sets.ts) every image for this target carries. */
  componentSets: readonly string[];
  boot: 'bzimage+initrd';
  /** Kernel command line before any per-launch additions. */
  cmdline: readonly string[];
  console: string;
  configDelivery: 'initrd-append';
  statusDevice: string;
  exit: ExitMethod;
}

export type TargetName = 'qemu';

/** What a launch asks of a platform: resolved, validated values only. */
export interface MachineRequest {
  kernelPath: string;
  initrdPath: string;
  cmdline: string;
  memoryMiB: number;
  cpus: number;
  accel: 'kvm' | 'tcg';
  network: { kind: 'none' } | { kind: 'user'; forwards: readonly HostForward[] };
  consoleLogPath?: string;
  statusPath: string;
  qmpSocketPath: string;
  gdb?: { address: string; port: number };
  pidfilePath?: string;
}
