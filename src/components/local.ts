import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { sha256 } from '../util/fs.js';
import { isArm64Image, parseArm64Image } from './arm64-image.js';
import { isBzImage, parseBzImage, type BzImageInfo } from './bzimage.js';
import { isElf, parseElf } from '../rootfs/elf.js';
import { vmlinuxLoadSpan, vmlinuxRelease } from './vmlinux.js';
import { parseKernelConfig } from './kconfig.js';
import type { KernelComponents } from './types.js';

/**
 * A kernel the user brings (`--kernel PATH [--modules DIR]`): a bzImage or an ELF vmlinux,
 * used in place (not copied into the cache), identified by its sha256 like any other.
 */
export async function localKernel(ctx: Context, path: string, modulesDirArg?: string): Promise<KernelComponents> {
  const kernelPath = resolve(path);
  const image = await readFile(kernelPath).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.KERNEL_NOT_FOUND, `cannot read the kernel ${path}`, { cause: error, hint: 'give the path of a bzImage (vmlinuz) or vmlinux file' });
  });
  const facts = describeImage(image, path);
  const modulesDir = modulesDirArg === undefined ? undefined : await findModulesDir(resolve(modulesDirArg), facts.release, modulesDirArg);
  if (modulesDir && basename(modulesDir) !== facts.release) {
    ctx.reporter.emit({
      type: 'warning',
      code: ErrorCodes.MODULES_RELEASE_MISMATCH,
      message: `modules in ${modulesDir} are for ${basename(modulesDir)}, but ${path} is ${facts.release}: the kernel will refuse them unless they match`,
    });
  }
  // An unpacked kernel package or a root filesystem has boot/config-<release> three levels up.
  const configText = modulesDir ? await readFile(join(modulesDir, '../../../boot', `config-${facts.release}`), 'utf8').catch(() => undefined) : undefined;
  const digest = sha256(image);
  return {
    source: { kind: 'local', path: kernelPath, sha256: digest },
    kernelPath,
    kernelSha256: digest,
    release: facts.release,
    format: facts.format,
    initSize: facts.initSize,
    ...(modulesDir ? { modulesDir } : {}),
    ...(configText === undefined ? {} : { config: parseKernelConfig(configText) }),
    ...(facts.setup ? { setup: facts.setup } : {}),
  };
}

interface ImageFacts {
  format: KernelComponents['format'];
  release: string;
  initSize: number;
  setup?: BzImageInfo;
}

function describeImage(image: Buffer, label: string): ImageFacts {
  if (isBzImage(image)) {
    const setup = parseBzImage(image, label);
    return { format: 'bzImage', release: setup.release, initSize: setup.initSize, setup };
  }
  if (isElf(image)) {
    const info = parseElf(image, label);
    const release = info.type === 'exec' ? vmlinuxRelease(image) : undefined;
    if (!release) throw new KilnError(ErrorCodes.KERNEL_INVALID, `${label} is an ELF ${info.type} file without a "Linux version" banner: not a vmlinux`);
    return { format: 'vmlinux', release, initSize: vmlinuxLoadSpan(image, info) };
  }
  if (isArm64Image(image)) {
    const info = parseArm64Image(image, label);
    return { format: 'arm64-image', release: info.release, initSize: info.imageSize };
  }
  throw new KilnError(ErrorCodes.KERNEL_INVALID, `${label} is neither a bzImage, an ELF vmlinux nor an arm64 Image`, {
    hint: 'give a bzImage (e.g. /boot/vmlinuz-*), an uncompressed vmlinux, or an arm64 Image',
  });
}

/**
 * Accepts lib/modules/<release> itself, lib/modules (the release is picked), or a tree
 * root containing lib/modules/<release> or usr/lib/modules/<release> (an unpacked .deb).
 */
async function findModulesDir(dir: string, release: string, label: string): Promise<string> {
  const isDir = (path: string) => stat(path).then((info) => info.isDirectory(), () => false);
  if ((await isDir(join(dir, 'kernel'))) || (await stat(join(dir, 'modules.builtin')).then(() => true, () => false))) return dir;
  for (const candidate of [join(dir, release), join(dir, 'lib/modules', release), join(dir, 'usr/lib/modules', release)]) {
    if (await isDir(candidate)) return candidate;
  }
  throw new KilnError(ErrorCodes.MODULE_NOT_FOUND, `no modules for ${release} in ${label}`, {
    hint: `give lib/modules/${release} (or a directory containing it)`,
  });
}
