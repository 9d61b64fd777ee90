import { resolve, posix, join } from 'node:path';
import type { RuntimeConfig } from '../config/runtime.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { LoadedImage } from '../image/manifest.js';
import { getTarget } from '../targets/registry.js';
import { writeInitrdWithConfig } from '../targets/runtime-archive.js';
import { runtimeConfigArchive } from '../init/config-archive.js';
import { planLaunch, type HostFacts } from '../launch/plan.js';

/**
 * A libvirt domain (`virsh define app.xml`) for a qemu-target image: direct kernel boot of the
 * image's kernel with an initrd that carries a runtime config, the console on the first serial
 * port and the shim's status lines on the second. libvirt has no user-mode port forwarding on
 * the classic backend, so the NIC joins a libvirt network (default: "default", which hands out
 * addresses by DHCP) and the runtime config asks the shim for DHCP.
 */
export interface LibvirtInput {
  name: string;
  domainType: 'kvm' | 'qemu';
  memoryMiB: number;
  cpus: number;
  kernelPath: string;
  initrdPath: string;
  cmdline: string;
  /** libvirt networks to attach, in order (eth0, eth1, …); empty for none. */
  networks: readonly string[];
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
function escapeXml(text: string): string {
  // XML 1.0 cannot carry most control characters at all, escaped or not.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(text)) {
    throw new KilnError(ErrorCodes.CONFIG_INVALID, `a value for the libvirt domain contains control characters: ${JSON.stringify(text)}`);
  }
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export function libvirtDomainXml(input: LibvirtInput): string {
  const x = escapeXml;
  const lines = [
    `<domain type="${input.domainType}">`,
    `  <name>${x(input.name)}</name>`,
    `  <memory unit="MiB">${input.memoryMiB}</memory>`,
    `  <vcpu>${input.cpus}</vcpu>`,
    '  <os>',
    '    <type arch="x86_64" machine="pc">hvm</type>',
    `    <kernel>${x(input.kernelPath)}</kernel>`,
    `    <initrd>${x(input.initrdPath)}</initrd>`,
    `    <cmdline>${x(input.cmdline)}</cmdline>`,
    '  </os>',
    // ACPI carries the power button: `virsh shutdown` becomes SIGTERM to the app.
    '  <features>',
    '    <acpi/>',
    '  </features>',
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>destroy</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    '    <serial type="pty">',
    '      <target port="0"/>',
    '    </serial>',
    '    <console type="pty">',
    '      <target type="serial" port="0"/>',
    '    </console>',
    // The shim's KILN-START/KILN-EXIT lines: `virsh console DOMAIN serial1` shows them.
    '    <serial type="pty">',
    '      <target port="1"/>',
    '    </serial>',
    ...input.networks.flatMap((network) => [
      '    <interface type="network">',
      `      <source network="${x(network)}"/>`,
      '      <model type="virtio"/>',
      '    </interface>',
    ]),
    '    <rng model="virtio">',
    '      <backend model="random">/dev/urandom</backend>',
    '    </rng>',
    '    <memballoon model="none"/>',
    '  </devices>',
    '</domain>',
  ];
  return lines.join('\n') + '\n';
}

export interface LibvirtExportOptions {
  /** Where to write the initrd with the runtime config (default: libvirt-initrd.cpio in the image). */
  initrdOut?: string;
  networks?: readonly string[];
  domainType?: 'kvm' | 'qemu';
  name?: string;
  memoryMiB?: number;
  cpus?: number;
  config?: RuntimeConfig;
}

/** A libvirt domain is planned like a launch, but for libvirt's host: no accelerator probe, no platform probe. */
const LIBVIRT_HOST: HostFacts = { arch: process.arch, kvm: {} };

/**
 * Writes the domain's initrd and returns the domain XML (absolute paths: libvirt needs them).
 * Memory, CPUs, the runtime config and the shim's records come from the same plan a launch
 * makes (src/launch/plan.ts), for the libvirt engine: DHCP on libvirt's networks, power-off.
 */
export async function exportLibvirt(image: LoadedImage, options: LibvirtExportOptions = {}): Promise<{ xml: string; initrdPath: string }> {
  const target = getTarget(image.manifest.target, image.manifest.arch);
  // The domain XML describes an x86 pc machine; aarch64 (virt) domains are not written yet.
  if (target.arch !== 'x86_64') {
    throw new KilnError(ErrorCodes.TARGET_CANNOT_CARRY, `libvirt export writes x86_64 pc domains; this image is for ${target.arch}`, {
      hint: 'run it with kiln launch (qemu-system-aarch64 -M virt)',
    });
  }
  if (target.name !== 'qemu') {
    throw new KilnError(ErrorCodes.TARGET_CANNOT_CARRY, `libvirt export is for qemu-target images; this one is for ${target.name}`, {
      hint: target.name === 'xen' ? 'a xen image already has xl.cfg; libvirt can read it with `virsh domxml-from-native xen-xl xl.cfg`' : 'bake the app again with --target qemu',
    });
  }
  const networks = options.networks ?? ['default'];
  const config: RuntimeConfig = options.config ?? {
    version: 1,
    // Best effort: the domain's networks are libvirt's to provide; a runtime config given here is explicit.
    ...(networks.length > 0 ? { network: { interfaces: networks.map((_, index) => ({ name: `eth${index}`, dhcp: true, optional: true })), dns: [] } } : {}),
  };
  const plan = planLaunch(
    image,
    { engine: 'libvirt', config, network: 'none', ...(options.memoryMiB !== undefined ? { memoryMiB: options.memoryMiB } : {}), ...(options.cpus !== undefined ? { cpus: options.cpus } : {}) },
    LIBVIRT_HOST,
  );
  const initrdPath = resolve(options.initrdOut ?? join(image.dir, 'libvirt-initrd.cpio'));
  await writeInitrdWithConfig(image.initrdPath, initrdPath, runtimeConfigArchive(plan.records, plan.config));
  const xml = libvirtDomainXml({
    name: options.name ?? `kiln-${posix.basename(image.manifest.app.guestPath)}`,
    domainType: options.domainType ?? 'kvm',
    memoryMiB: plan.memoryMiB,
    cpus: plan.cpus,
    kernelPath: resolve(image.kernelPath),
    initrdPath,
    cmdline: image.manifest.cmdline,
    networks,
  });
  return { xml, initrdPath };
}
