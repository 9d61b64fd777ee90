import { readFile } from 'node:fs/promises';
import { KilnError } from '../errors.js';
import { run } from '../util/exec.js';
import { ovmfProblems } from './efi/firmware.js';
import { EFI_STUB } from './efi/uki.js';
import type { Platform } from './types.js';
import { ARCHS, kvmPossibleFor } from '../arch.js';
import { exists } from '../util/fs.js';

/** What a probe found about one platform on this host: usable, or every reason why not. */
export interface PlatformProbe {
  platform: Platform['kind'];
  usable: boolean;
  reasons: string[];
  /** Facts worth knowing that do not stop it (e.g. no KVM: QEMU falls back to TCG). */
  notes: string[];
  version?: string;
}

/**
 * Host facts, each looked up once per `kiln targets` (several targets share QEMU). Every
 * failure becomes a reason in words; nothing is swallowed.
 */
export class HostProbe {
  private qemu = new Map<string, Promise<{ version?: string; machines?: string; error?: string }>>();

  /** Facts about one QEMU system emulator (qemu-system-x86_64 by default, qemu-system-aarch64 for aarch64 guests). */
  qemuFacts(program = ARCHS.x86_64.qemu): Promise<{ version?: string; machines?: string; error?: string }> {
    let facts = this.qemu.get(program);
    if (!facts) {
      facts = (async () => {
        try {
          const version = (await run(program, ['--version'])).stdout.split('\n')[0]?.trim();
          const machines = (await run(program, ['-machine', 'help'])).stdout;
          return { ...(version ? { version } : {}), machines };
        } catch (error) {
          return { error: describe(error) };
        }
      })();
      this.qemu.set(program, facts);
    }
    return facts;
  }

  async probe(platform: Platform): Promise<PlatformProbe> {
    switch (platform.kind) {
      case 'qemu': {
        const arch = ARCHS[platform.arch ?? 'x86_64'];
        const facts = await this.qemuFacts(arch.qemu);
        const reasons: string[] = [];
        if (facts.error) reasons.push(facts.error);
        else if (!new RegExp(`^${platform.machine}\\s`, 'm').test(facts.machines ?? '')) {
          reasons.push(`this QEMU (${facts.version ?? 'unknown version'}) has no "${platform.machine}" machine`);
        }
        if (platform.firmware === 'uefi') {
          reasons.push(...(await ovmfProblems()));
          if (!(await exists(EFI_STUB))) reasons.push(`no systemd EFI stub to build the UKI (${EFI_STUB} missing; Debian package systemd-boot-efi)`);
          if (!(await onPath('objcopy'))) reasons.push('objcopy is not installed (Debian package binutils)');
        }
        const notes = !kvmPossibleFor(arch.name)
          ? [`an ${arch.name} guest on this ${process.arch} host: runs under TCG (software emulation; KVM only runs the host's own architecture)`]
          : (await exists('/dev/kvm'))
            ? []
            : ['no /dev/kvm: runs under TCG (software emulation, several times slower)'];
        return { platform: 'qemu', usable: reasons.length === 0, reasons, notes, ...(facts.version ? { version: facts.version } : {}) };
      }
      case 'xl':
        return probeXl();
      case 'firecracker':
        return probeFirecracker();
    }
  }
}

function describe(error: unknown): string {
  return error instanceof KilnError ? `${error.message}${error.hint ? ` (${error.hint})` : ''}` : String(error);
}


async function onPath(program: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && (await exists(`${dir}/${program}`))) return true;
  }
  return false;
}

/** `xl create` needs a Xen dom0: the privcmd interface and control rights shown in capabilities. */
export async function probeXl(): Promise<PlatformProbe> {
  const reasons: string[] = [];
  const capabilities = await readFile('/proc/xen/capabilities', 'utf8').catch(() => undefined);
  if (capabilities === undefined) reasons.push('no Xen dom0 (/proc/xen/capabilities missing)');
  else if (!capabilities.includes('control_d')) reasons.push('this host runs under Xen but is not dom0 (/proc/xen/capabilities lacks control_d)');
  if (!(await onPath('xl'))) reasons.push('xl is not installed (Debian package xen-utils-4.17)');
  return { platform: 'xl', usable: reasons.length === 0, reasons, notes: [] };
}

/** Firecracker needs its binary and a usable /dev/kvm (it has no emulator). */
export async function probeFirecracker(): Promise<PlatformProbe> {
  const reasons: string[] = [];
  if (!(await onPath('firecracker'))) reasons.push('firecracker is not installed (Debian 12 does not package it)');
  if (!(await exists('/dev/kvm'))) reasons.push('no /dev/kvm (Firecracker has no emulator)');
  return { platform: 'firecracker', usable: reasons.length === 0, reasons, notes: [] };
}
