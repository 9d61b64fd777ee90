import { writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { KilnError, ErrorCodes } from '../../errors.js';
import { runtimeArchive, writeInitrdWithConfig } from '../runtime-archive.js';
import type { TargetDriver, XenTarget } from '../types.js';
import { xenDefaultConfig, xlConfigForImage } from './image.js';

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

/**
 * QEMU cannot run it: Xen's xl does (src/launch/engines/xl.ts on a dom0). Bake writes xl.cfg
 * (paths relative to the image directory) and a ramdisk with a default runtime config.
 */
export const xenDriver: TargetDriver<XenTarget> = {
  target: xenTarget,
  machineOptions: () => {
    throw new KilnError(ErrorCodes.TARGET_UNAVAILABLE, 'a xen image runs under Xen (xl create), not QEMU', {
      hint: 'on a Xen dom0 run `xl create xl.cfg` in the image directory, or bake with --target qemu or microvm to run it here',
    });
  },
  async writeArtifacts(dir, manifest) {
    const [configFile, initrdFile] = xenTarget.artifacts as [string, string];
    const config = xenDefaultConfig();
    await writeInitrdWithConfig(join(dir, manifest.initrd.file), join(dir, initrdFile), runtimeArchive(manifest, xenTarget, config));
    await writeFile(join(dir, configFile), xlConfigForImage(manifest, config, { ramdiskFile: initrdFile, appName: posix.basename(manifest.app.guestPath) }).text);
  },
};
