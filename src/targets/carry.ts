import { KilnError, ErrorCodes } from '../errors.js';
import type { Target } from './types.js';

/** What one launch asks a target to carry, beyond args and env (which every target carries). */
export interface CarryRequest {
  userNetwork: boolean;
  taps: number;
  volumes: number;
}

/**
 * Refuses, with every reason at once, a runtime config the image's target cannot carry: a
 * network kind its platform has no device for, or volumes on an image without a block driver.
 */
export function assertTargetCarries(target: Target, request: CarryRequest): void {
  const problems: string[] = [];
  if (request.userNetwork && !target.networks.includes('user')) {
    problems.push(`the ${target.name} target has no user-mode network (it carries: ${target.networks.join(', ')})`);
  }
  if (request.taps > 0 && !target.networks.includes('tap')) {
    problems.push(`the ${target.name} target cannot attach tap devices (it carries: ${target.networks.join(', ')})`);
  }
  // Launch attaches each volume as a virtio-blk disk and the shim finds it by its serial
  // number, so volumes need virtio-blk; Xen's block devices (xvd*) carry no serial.
  if (request.volumes > 0 && !target.componentSets.includes('virtio-blk')) {
    problems.push(
      target.componentSets.includes('xen-blk')
        ? `the ${target.name} target's disks are Xen block devices, which have no serial number for the guest to find a volume by`
        : `the ${target.name} target has no block device driver, so it cannot mount volumes`,
    );
  }
  if (problems.length > 0) {
    throw new KilnError(ErrorCodes.TARGET_CANNOT_CARRY, `this runtime config cannot be carried by a ${target.name} image`, {
      details: problems,
      hint: 'drop those options, or bake the app for a target that has them (see `kiln targets`)',
    });
  }
}
