import { KilnError, ErrorCodes } from '../errors.js';
import { run } from '../util/exec.js';
import { DEBUG_EXIT_PORT } from './qemu/machine.js';
import type { Target, TargetName } from './types.js';

/** The `qemu` target: a classic `pc` machine with virtio-pci devices, booted with -kernel. */
export const qemuTarget: Target = {
  name: 'qemu',
  description: 'QEMU pc machine (KVM or TCG), virtio-pci network, entropy and power button',
  componentSets: ['virtio-pci', 'virtio-net', 'virtio-rng', 'acpi-power'],
  boot: 'bzimage+initrd',
  cmdline: ['console=ttyS0', 'rdinit=/kiln/init', 'panic=-1', 'quiet'],
  console: 'ttyS0',
  configDelivery: 'initrd-append',
  statusDevice: '/dev/ttyS1',
  exit: { kind: 'isa-debug-exit', port: DEBUG_EXIT_PORT },
};

const TARGETS: Record<TargetName, Target> = { qemu: qemuTarget };

export function listTargets(): Target[] {
  return Object.values(TARGETS);
}

export function getTarget(name: string): Target {
  const target = TARGETS[name as TargetName];
  if (!target) {
    throw new KilnError(ErrorCodes.TARGET_UNKNOWN, `unknown target "${name}"`, {
      hint: `known targets: ${Object.keys(TARGETS).join(', ')}`,
    });
  }
  return target;
}

export interface TargetProbe {
  target: TargetName;
  launchable: boolean;
  reasons: string[];
  qemuVersion?: string;
}

/** Says whether a target can be launched on this host, and if not, every reason why. */
export async function probeTarget(target: Target): Promise<TargetProbe> {
  const reasons: string[] = [];
  let qemuVersion: string | undefined;
  try {
    const result = await run('qemu-system-x86_64', ['--version']);
    qemuVersion = result.stdout.split('\n')[0]?.trim();
  } catch (error) {
    reasons.push(error instanceof KilnError ? `${error.message} (${error.hint ?? ''})` : String(error));
  }
  return { target: target.name, launchable: reasons.length === 0, reasons, ...(qemuVersion ? { qemuVersion } : {}) };
}
