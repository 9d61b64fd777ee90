import { posix } from 'node:path';
import { KilnError, ErrorCodes } from '../../errors.js';
import type { Target } from '../types.js';

/**
 * The disk target's optional data partition: a second GPT partition holding an empty ext4 file
 * system, found by the shim through its GPT name (docs/guest-contract.md, `partition` record)
 * whatever the disk's driver is (virtio-blk under QEMU, NVMe on EC2 and GCE).
 */
export interface DataPartition {
  /** The GPT partition name and the ext4 label. */
  label: string;
  sizeMiB: number;
  /** Where the image's own UKI mounts it. */
  mount: string;
}

export const DATA_PARTITION_LABEL = 'kiln-data';
export const DATA_PARTITION_MOUNT = '/data';
/** ext4 with a journal needs a few MiB for itself; below this there is no room left for data. */
const MIN_SIZE_MIB = 8;
/** A raw disk image is written in full at bake (sparse where empty); beyond this, grow it in the cloud instead. */
const MAX_SIZE_MIB = 64 * 1024;

/** Parses `SIZE[:/MOUNT]`, SIZE with an optional M or G suffix (MiB by default), e.g. `256M:/srv/data`. */
export function parseDataPartitionFlag(flag: string): { sizeMiB: number; mount?: string } {
  const [size = '', ...rest] = flag.split(':');
  const mount = rest.join(':');
  const match = /^(\d+)([MG]i?B?)?$/i.exec(size);
  if (!match) {
    throw new KilnError(ErrorCodes.USAGE, `--data-partition ${flag}: expected SIZE[:/MOUNT], e.g. 256M or 1G:/srv/data`, { hint: 'SIZE is in MiB, or GiB with a G suffix' });
  }
  const sizeMiB = Number(match[1]) * (match[2]?.toUpperCase().startsWith('G') ? 1024 : 1);
  return { sizeMiB, ...(rest.length > 0 ? { mount } : {}) };
}

/**
 * What an image records about its data partition, or undefined when none was asked for.
 * Refused with the reason on targets without a partitioned disk, or with an unusable size or mount.
 */
export function planDataPartition(target: Pick<Target, 'name' | 'boot'>, request: { sizeMiB: number; mount?: string } | undefined): DataPartition | undefined {
  if (!request) return undefined;
  if (target.boot !== 'gpt-esp-uki') {
    throw new KilnError(ErrorCodes.TARGET_CANNOT_CARRY, `a data partition needs a disk image; ${target.name} images have none`, {
      hint: 'bake with --target disk, or give the app a volume at launch (-v SRC:/PATH)',
    });
  }
  if (!Number.isInteger(request.sizeMiB) || request.sizeMiB < MIN_SIZE_MIB || request.sizeMiB > MAX_SIZE_MIB) {
    throw new KilnError(ErrorCodes.USAGE, `a data partition of ${request.sizeMiB} MiB is outside ${MIN_SIZE_MIB} MiB to ${MAX_SIZE_MIB / 1024} GiB`, {
      hint: 'give a size such as 256M or 1G; a cloud disk can be grown after import',
    });
  }
  const mount = request.mount ?? DATA_PARTITION_MOUNT;
  if (!posix.isAbsolute(mount) || posix.normalize(mount) !== mount || mount.endsWith('/') || mount === '/kiln' || mount.startsWith('/kiln/') || /[\0\n]/.test(mount)) {
    throw new KilnError(ErrorCodes.USAGE, `the data partition's mount point ${JSON.stringify(mount)} must be a normal absolute path other than / and /kiln`, {
      hint: 'e.g. --data-partition 256M:/srv/data',
    });
  }
  return { label: DATA_PARTITION_LABEL, sizeMiB: request.sizeMiB, mount };
}

/** The runtime-config records (docs/guest-contract.md) that mount the data partition. */
export function dataPartitionRecords(partition: DataPartition | undefined): [string, string][] {
  return partition ? [['partition', partition.label], ['mount', partition.mount]] : [];
}
