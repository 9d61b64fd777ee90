import type { ImageManifest } from '../image/manifest.js';
import type { Component } from '../image/components.js';
import type { CpioEntry } from '../rootfs/cpio.js';
import type { Target } from '../targets/types.js';
import type { Provenance } from '../toolchain/provenance.js';
import type { DataEntry } from './data.js';
import type { DataPartition } from '../targets/disk/data-partition.js';
import type { Signing } from '../targets/efi/sign.js';

/** A host file going into the image, with the facts the plan needs about it. */
export interface HostFile {
  hostPath: string;
  guestPath: string;
  sha256: string;
  size: number;
  executable: boolean;
}

/**
 * Everything a bake depends on, already read from disk by `gatherBakeInputs`. `planBake`
 * is a pure function of this value, so two equal inputs always give the same image.
 */
export interface BakeInputs {
  target: Target;
  app: HostFile & { linkage: 'static' | 'dynamic'; args: string[]; env: Record<string, string>; workdir?: string; provenance?: Provenance };
  /** The ELF interpreter, stored at guestPath; loaderPath is the PT_INTERP path that reaches it. */
  interpreter?: HostFile & { loaderPath: string };
  libraries: (HostFile & { soname: string; neededBy: string[] })[];
  /** Other programs beside the app (src/bake/programs.ts), sorted as given; their libraries are in `libraries`. */
  programs?: HostFile[];
  /** Directory symlinks such as /lib -> usr/lib that the host's dynamic loader relies on. */
  symlinks: { path: string; target: string }[];
  kernel: ImageManifest['kernel'] & { hostPath: string };
  /** The hypervisor the target boots first (xen-host), stored in the image as `file`. */
  hypervisor?: NonNullable<ImageManifest['hypervisor']> & { hostPath: string };
  modules: (HostFile & { name: string })[];
  componentSets: string[];
  shim: HostFile & { compiler: string };
  /** Data files and trees (config, firmware, assets), sorted by guest path. */
  data: DataEntry[];
  /** disk target: the second GPT partition asked for (src/targets/disk/data-partition.ts). */
  dataPartition?: DataPartition;
  /** efi/disk targets: the key and certificate the standalone UKI is signed with. */
  signing?: Signing;
  kilnVersion: string;
  /** The image's inventory (src/supply/inventory.ts), sorted by id; absent in hand-made inputs. */
  components?: Component[];
  distro?: { id: string; versionId?: string; codename?: string };
}

export interface BakePlan {
  /** sha256 over everything that determines the output: the image cache key. */
  key: string;
  /** The target the image is for (its driver writes the target's artifacts). */
  target: Target;
  entries: CpioEntry[];
  /** The manifest without the initrd facts, which are known once the archive is written. */
  manifest: Omit<ImageManifest, 'initrd'>;
  kernelHostPath: string;
  hypervisorHostPath?: string;
  /** The signing key and certificate (host paths, never in the manifest, which has the certificate's hash). */
  signing?: Signing;
}
