import { KilnError, ErrorCodes } from '../../errors.js';

/**
 * An `xl` domain config for a PVH guest (xl.cfg(5)). PVH boots the uncompressed vmlinux
 * directly, without a bootloader or device model; the console is Xen's PV console (hvc0), the
 * network and disks are Xen's paravirtual front-ends (xen-netfront/xen-blkfront in the image).
 * Paths are written as given: kiln writes them relative to the image directory, so `xl create`
 * runs from there.
 */
export interface XlInput {
  name: string;
  kernelFile: string;
  ramdiskFile: string;
  cmdline: string;
  memoryMiB: number;
  cpus: number;
  /** One virtual interface per runtime-config interface, in order (the first is eth0). */
  vifs: readonly { bridge: string; mac: string }[];
  disks: readonly { path: string; vdev: string; readOnly: boolean }[];
}

/** xl's config strings are quoted; kiln refuses rather than escapes what could break out. */
function quoted(field: string, value: string): string {
  if (/["'\\\n\r]/.test(value) || value.includes('\0')) {
    throw new KilnError(ErrorCodes.CONFIG_INVALID, `the xl config ${field} cannot contain quotes, backslashes or line breaks: ${JSON.stringify(value)}`, {
      hint: 'rename the file or value so it has none of these characters',
    });
  }
  return `"${value}"`;
}

/** An xl domain name: letters, digits, '-', '_' and '.' (what `xl` accepts without surprise). */
export function xlDomainName(appName: string): string {
  const cleaned = appName.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[-.]+/, '');
  return `kiln-${cleaned || 'app'}`.slice(0, 64);
}

/** Xen's own OUI (00:16:3e) with the interface index: stable across boots, distinct per vif. */
export function xenMac(domainIndex: number, interfaceIndex: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `00:16:3e:${hex((domainIndex >> 8) & 0x7f)}:${hex(domainIndex & 0xff)}:${hex(interfaceIndex & 0xff)}`;
}

export function xlConfig(input: XlInput): string {
  const list = (items: string[]) => (items.length === 0 ? '[ ]' : `[ ${items.join(', ')} ]`);
  const lines = [
    '# xl domain config written by kiln: run `xl create xl.cfg` from the image directory.',
    `name = ${quoted('name', input.name)}`,
    'type = "pvh"',
    `kernel = ${quoted('kernel', input.kernelFile)}`,
    `ramdisk = ${quoted('ramdisk', input.ramdiskFile)}`,
    `cmdline = ${quoted('cmdline', input.cmdline)}`,
    `memory = ${input.memoryMiB}`,
    `vcpus = ${input.cpus}`,
    `vif = ${list(input.vifs.map((vif, index) => quoted(`vif ${index}`, `mac=${vif.mac},bridge=${vif.bridge}`)))}`,
    `disk = ${list(input.disks.map((disk, index) => quoted(`disk ${index}`, `format=raw,vdev=${disk.vdev},access=${disk.readOnly ? 'ro' : 'rw'},target=${disk.path}`)))}`,
    // The shim powers the domain off when the app ends; nothing should bring it back.
    'on_poweroff = "destroy"',
    'on_reboot = "destroy"',
    'on_crash = "destroy"',
  ];
  return lines.join('\n') + '\n';
}
