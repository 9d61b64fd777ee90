import { rm, stat, writeFile } from 'node:fs/promises';
import { posix, join } from 'node:path';
import type { ImageManifest } from '../image/manifest.js';
import { canonicalJson } from '../util/fs.js';
import { FIRECRACKER_DEFAULT_CONFIG, FIRECRACKER_NET, firecrackerConfig } from './microvm/firecracker.js';
import { FIRECRACKER_PLUMBING } from './microvm/driver.js';
import { getTarget } from './registry.js';
import { runtimeArchive, writeInitrdWithConfig } from './runtime-archive.js';
import { xenDefaultConfig, xlConfigForImage } from './xen/image.js';
import { xenTarget } from './xen/driver.js';
import { buildEspDisk } from './disk/gpt.js';
import { dataPartitionRecords } from './disk/data-partition.js';
import { signPe, type SigningRequest } from './efi/sign.js';
import type { WireRecord } from '../config/wire.js';
import { STANDALONE_PLUMBING } from './efi/driver.js';
import { buildUki, ukiOsRelease } from './efi/uki.js';
import type { RuntimeConfig } from '../config/runtime.js';

/**
 * Files a target's image carries for tools other than kiln (xl, firecracker), written into
 * the image directory at bake, next to kernel, initramfs.cpio and image.json. They are a pure
 * function of the manifest, so the image's cache key still names all of its bytes. Those tools
 * read their config from a file, so each gets its own initrd with a default runtime config.
 */
export async function writeTargetArtifacts(dir: string, manifest: ImageManifest, signing?: SigningRequest): Promise<string[]> {
  const target = getTarget(manifest.target, manifest.arch);
  const initrd = join(dir, manifest.initrd.file);
  switch (target.name) {
    case 'qemu':
    case 'xen-host':
      return [];
    case 'microvm': {
      const initrdFile = 'firecracker-initrd.cpio';
      await writeInitrdWithConfig(initrd, join(dir, initrdFile), runtimeArchive(manifest, FIRECRACKER_PLUMBING, FIRECRACKER_DEFAULT_CONFIG));
      const config = firecrackerConfig({
        kernelFile: manifest.kernel.file,
        initrdFile,
        bootArgs: [manifest.cmdline, ...FIRECRACKER_PLUMBING.extraCmdline].join(' '),
        memoryMiB: manifest.memory.defaultMiB,
        cpus: 1,
        taps: [{ hostDevName: FIRECRACKER_NET.tap, guestMac: FIRECRACKER_NET.guestMac }],
      });
      await writeFile(join(dir, 'firecracker.json'), canonicalJson(config));
      return ['firecracker.json', initrdFile];
    }
    case 'xen': {
      const config = xenDefaultConfig();
      await writeInitrdWithConfig(initrd, join(dir, 'xen-initrd.cpio'), runtimeArchive(manifest, xenTarget, config));
      await writeFile(join(dir, 'xl.cfg'), xlConfigForImage(manifest, config, { ramdiskFile: 'xen-initrd.cpio', appName: posix.basename(manifest.app.guestPath) }).text);
      return ['xl.cfg', 'xen-initrd.cpio'];
    }
    case 'efi':
      await writeStandaloneUki(dir, manifest, [], signing);
      return ['kiln.efi'];
    case 'disk': {
      const uki = await writeStandaloneUki(dir, manifest, dataPartitionRecords(manifest.dataPartition), signing);
      await buildEspDisk(dir, uki, (await stat(uki)).size, manifest.kernel.sha256 + manifest.initrd.sha256, manifest.dataPartition);
      return ['kiln.efi', 'disk.raw'];
    }
  }
}

/**
 * What a UKI booted by other firmware (a cloud, a real machine) configures: DHCP on eth0, best
 * effort, because nobody asked for it: a disk booted without a NIC, or where no DHCP server
 * answers, still runs its app (the shim warns on the console and keeps asking).
 */
export const STANDALONE_CONFIG: RuntimeConfig = { version: 1, network: { interfaces: [{ name: 'eth0', dhcp: true, optional: true }], dns: [] } };

/** kiln.efi: the image's kernel and initrd, with the standalone runtime config (and `extra` records), in one UKI. */
async function writeStandaloneUki(dir: string, manifest: ImageManifest, extra: readonly WireRecord[] = [], signing?: SigningRequest): Promise<string> {
  const initrd = join(dir, '.uki-initrd.cpio');
  const out = join(dir, 'kiln.efi');
  try {
    await writeInitrdWithConfig(join(dir, manifest.initrd.file), initrd, runtimeArchive(manifest, STANDALONE_PLUMBING, STANDALONE_CONFIG, extra));
    await buildUki({ kernelPath: join(dir, manifest.kernel.file), initrdPath: initrd, cmdline: manifest.cmdline, osRelease: ukiOsRelease(manifest), outPath: out });
    if (signing) await signPe(out, signing);
  } finally {
    await rm(initrd, { force: true });
  }
  return out;
}
