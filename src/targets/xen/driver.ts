import type { XenTarget } from '../types.js';

/**
 * The `xen` target: a PVH domU. The kernel is the uncompressed vmlinux (PVH entry note), the
 * console Xen's PV console hvc0 (also the status channel: there is no second port), the network
 * and disks Xen's paravirtual front-ends, and the shim ends the domain by powering off
 * (on_poweroff = "destroy"). `xl` reads its config from a file, so bake writes xl.cfg and a
 * ramdisk with a default runtime config; a per-instance config needs a new ramdisk.
 */
export const xenTarget: XenTarget = {
  name: 'xen',
  arch: 'x86_64',
  description: 'Xen PVH guest for xl: xen-netfront/blkfront, console hvc0',
  componentSets: ['xen-net', 'xen-blk'],
  kernel: 'vmlinux',
  boot: 'pvh-vmlinux+initrd',
  cmdline: ['console=hvc0', 'rdinit=/kiln/init', 'panic=-1', 'quiet'],
  console: 'hvc0',
  configDelivery: 'baked-default',
  statusDevice: '/dev/hvc0',
  exit: { kind: 'poweroff' },
  networks: ['bridge'],
  platforms: [{ kind: 'xl' }],
  artifacts: ['xl.cfg', 'xen-initrd.cpio'],
};

/** The bridge in dom0 the default xl.cfg attaches interfaces to (Debian's usual name). */
export const XEN_DEFAULT_BRIDGE = 'xenbr0';
