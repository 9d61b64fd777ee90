import type { RuntimeConfig } from '../../config/runtime.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import type { ImageManifest } from '../../image/manifest.js';
import { xenMac, xlConfig, xlDomainName } from './xl.js';

/**
 * The runtime config bake puts in a xen image's ramdisk: the image's own defaults and one
 * interface configured by DHCP on the dom0 bridge (the usual Xen set-up; a static address would
 * have to be guessed). Best effort, as nobody asked for it: a domain without a vif, or on a
 * bridge without DHCP, still runs its app.
 */
export function xenDefaultConfig(): RuntimeConfig {
  return { version: 1, network: { interfaces: [{ name: 'eth0', dhcp: true, optional: true }], dns: [] } };
}

/** The bridge in dom0 the default xl.cfg attaches interfaces to (Debian's usual name). */
export const XEN_DEFAULT_BRIDGE = 'xenbr0';

export interface XlOptions {
  ramdiskFile: string;
  appName: string;
  bridge?: string;
  memoryMiB?: number;
  cpus?: number;
  /** Distinguishes several domains of one host in their MACs. */
  domainIndex?: number;
}

/**
 * The xl config for an image and one runtime config: a vif per interface (volumes are refused,
 * see below). Returns the domain's name beside the text, so nobody reads it back out of the file.
 */
export function xlConfigForImage(manifest: Pick<ImageManifest, 'kernel' | 'cmdline' | 'memory'>, config: RuntimeConfig, options: XlOptions): { name: string; text: string } {
  if ((config.volumes ?? []).length > 0) {
    // The shim finds a volume by its virtio-blk serial; xen-blkfront disks expose none.
    throw new KilnError(ErrorCodes.TARGET_CANNOT_CARRY, 'a xen image cannot carry volumes yet', {
      details: ['the init shim finds each volume by its virtio-blk serial number, and Xen block devices (xvd*) have none'],
      hint: 'drop the volumes, or bake for --target qemu or microvm',
    });
  }
  const name = xlDomainName(options.appName);
  const text = xlConfig({
    name,
    kernelFile: manifest.kernel.file,
    ramdiskFile: options.ramdiskFile,
    cmdline: manifest.cmdline,
    memoryMiB: options.memoryMiB ?? manifest.memory.defaultMiB,
    cpus: options.cpus ?? 1,
    vifs: (config.network?.interfaces ?? []).map((_, index) => ({ bridge: options.bridge ?? XEN_DEFAULT_BRIDGE, mac: xenMac(options.domainIndex ?? 0, index) })),
    disks: [],
  });
  return { name, text };
}
