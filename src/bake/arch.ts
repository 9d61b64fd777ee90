import { KilnError, ErrorCodes } from '../errors.js';
import type { KernelComponents } from '../components/types.js';
import type { ElfInfo } from '../rootfs/elf.js';
import { ARCHS, archForElfMachine, getArch, type ArchInfo } from '../arch.js';

/**
 * Which architecture an image is for. The app decides: an aarch64 ELF bakes an aarch64 image
 * without being told. `requested` (bake --arch) is a check, not an override: an image whose
 * kernel cannot run its app would fail only inside the guest, so a mismatch is refused here.
 */
export function appArch(info: ElfInfo, appLabel: string, requested?: string): ArchInfo {
  const wanted = requested === undefined ? undefined : getArch(requested);
  const found = info.class === 64 ? archForElfMachine(info.machine) : undefined;
  if (!found) {
    throw new KilnError(ErrorCodes.APP_WRONG_ARCH, `${appLabel} is built for ${info.machineName} (${info.class}-bit), which kiln has no images for`, {
      hint: `rebuild it for one of ${Object.keys(ARCHS).join(', ')}, e.g. with ${Object.values(ARCHS).map((a) => `${a.defaultTuple}-gcc`).join(' or ')}`,
    });
  }
  if (wanted && wanted.name !== found.name) {
    throw new KilnError(ErrorCodes.APP_WRONG_ARCH, `${appLabel} is built for ${found.name}, not ${wanted.name}`, {
      hint: `drop --arch (the app's architecture is used), or rebuild it with ${wanted.defaultTuple}-gcc`,
    });
  }
  return found;
}

/** A kernel the user brings (--kernel) must be of the image's architecture: a bzImage/vmlinux for x86_64, an Image for aarch64. */
export function assertKernelArch(kernel: Pick<KernelComponents, 'format' | 'kernelPath'>, arch: ArchInfo): void {
  const fits = arch.name === 'aarch64' ? kernel.format === 'arm64-image' : kernel.format !== 'arm64-image';
  if (!fits) {
    throw new KilnError(ErrorCodes.KERNEL_INVALID, `${kernel.kernelPath} is a ${kernel.format} kernel, which cannot boot an ${arch.name} image`, {
      hint: arch.name === 'aarch64' ? 'give an arm64 Image (e.g. /boot/vmlinuz-*-arm64 from linux-image-cloud-arm64)' : 'give an x86_64 bzImage or vmlinux',
    });
  }
}
