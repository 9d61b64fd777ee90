import type { Context } from '../context.js';
import type { LoadedImage } from '../image/manifest.js';
import { getArch } from '../arch.js';
import { hostTscKhz } from '../targets/host.js';
import { HostProbe } from '../targets/probe.js';
import { getTarget } from '../targets/registry.js';
import { gatherKvmFacts } from './accel.js';
import type { HostFacts } from './plan.js';
import type { AccelChoice } from './types.js';

/**
 * The host facts one launch of `image` needs (the I/O half of planning): the platform's probe
 * when it is not QEMU (xl needs a dom0), what is known of KVM for the asked accelerator, and
 * the TSC frequency. The KVM probe boot itself is not run here: planLaunch says when it is needed.
 */
export async function gatherHostFacts(ctx: Context, image: LoadedImage, accel: AccelChoice = 'auto', host: HostProbe = new HostProbe()): Promise<HostFacts> {
  const target = getTarget(image.manifest.target, image.manifest.arch);
  const platform = target.platforms[0]!;
  const arch = getArch(image.manifest.arch).name;
  const [probe, kvm, tscKhz] = await Promise.all([
    platform.kind === 'qemu' ? undefined : host.probe(platform),
    platform.kind === 'qemu' ? gatherKvmFacts(ctx, accel, arch) : {},
    hostTscKhz(),
  ]);
  return { arch: process.arch, kvm, ...(tscKhz !== undefined ? { tscKhz } : {}), ...(probe ? { platform: probe } : {}) };
}
