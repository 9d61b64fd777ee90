import { chmod, mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes, isKilnError } from '../errors.js';
import { canonicalJson, publishDirectory, sha256, sha256File } from '../util/fs.js';
import { throwIfAborted } from './abort.js';
import { aptDownload, isVersionedKernelPackage } from './apt.js';
import { resolveKernelPackageCached } from './apt-memo.js';
import { parseArm64Image } from './arm64-image.js';
import { parseBzImage } from './bzimage.js';
import { KERNEL_CONFIG_FILE, KERNEL_IMAGE_FILE, KERNEL_META_FILE, kernelEntryDir, kernelsDir, newestKernelEntry, readKernelEntry } from './cache.js';
import { parseKernelConfig } from './kconfig.js';
import { localKernel } from './local.js';
import { buildModuleIndex, MODULE_INDEX_FILE, serializeModuleIndex } from './modules.js';
import { archByDpkg, type ArchInfo } from '../arch.js';
import type { DebianKernelPin, KernelComponents, KernelEntryMeta, ObtainKernelOptions } from './types.js';
import { unpackKernelDeb } from './unpack.js';
import { ownedTempPrefix } from '../util/temp-owner.js';

/**
 * Kernel components for a bake: a local file when `kernelPath` is given, otherwise a Debian
 * kernel package through the host's apt, unpacked once into the content-addressed cache.
 *
 * Resolution order for Debian kernels:
 * 1. `pin` (e.g. from a lockfile): the entry with that .deb hash, else download exactly it;
 * 2. otherwise ask apt-cache which package/version/hash is current; a cached entry with that
 *    hash is a hit, else download it;
 * 3. if apt cannot answer (no package lists, no apt), fall back to the newest cached kernel
 *    of the same flavour, with a warning, so an offline host keeps working.
 */
export async function obtainKernel(ctx: Context, opts: ObtainKernelOptions = {}): Promise<KernelComponents> {
  if (opts.kernelPath) return localKernel(ctx, opts.kernelPath, opts.modulesDir);
  if (opts.modulesDir) {
    throw new KilnError(ErrorCodes.USAGE, 'a modules directory can only be given together with a kernel file', {
      hint: 'pass --kernel PATH as well, or drop the modules directory to use the Debian kernel and its modules',
    });
  }
  const arch = archByDpkg(opts.arch ?? 'amd64');
  const meta = opts.pin ? await ensureKernelEntry(ctx, opts.pin, arch) : await currentKernelEntry(ctx, opts.packageName ?? arch.kernelPackage, arch);
  return componentsFromEntry(ctx, meta);
}

async function currentKernelEntry(ctx: Context, packageName: string, arch: ArchInfo): Promise<KernelEntryMeta> {
  ctx.reporter.emit({ type: 'step', step: 'kernel-resolve', message: `asking apt for the current ${packageName}` });
  let resolved;
  try {
    resolved = await resolveKernelPackageCached(ctx, packageName, arch);
  } catch (error) {
    if (!isKilnError(error, ErrorCodes.KERNEL_NOT_FOUND) && !isKilnError(error, ErrorCodes.TOOL_MISSING)) throw error;
    const fallback = await newestKernelEntry(ctx.paths.cache, matchesRequest(packageName, arch));
    if (!fallback) throw withMultiarchHint(error, arch);
    ctx.reporter.emit({
      type: 'warning',
      code: error.code,
      message: `apt could not resolve ${packageName} (${error.message}); using the newest cached kernel ${fallback.package} ${fallback.version}`,
      hint: 'run apt-get update to get the current kernel with its security fixes',
    });
    ctx.reporter.emit({ type: 'cache', what: 'kernel', hit: true, key: fallback.sha256 });
    return fallback;
  }
  return ensureKernelEntry(ctx, resolved, arch);
}

/**
 * apt lists another architecture's packages only once dpkg has that architecture: a kernel for
 * arm64 on an amd64 host that apt does not know most likely means exactly that.
 */
function withMultiarchHint(error: KilnError, arch: ArchInfo): KilnError {
  const native = process.arch === 'arm64' ? 'arm64' : 'amd64';
  if (arch.dpkgArch === native || error.code !== ErrorCodes.KERNEL_NOT_FOUND) return error;
  return new KilnError(error.code, error.message, {
    hint: `apt lists ${arch.dpkgArch} packages only once dpkg has the architecture: dpkg --add-architecture ${arch.dpkgArch} && apt-get update (scripts/setup.sh does this; nothing gets installed)`,
    details: error.details,
    cause: error,
  });
}

/** Which cached entries may stand in for `packageName` when apt cannot say what is current. */
function matchesRequest(packageName: string, arch: ArchInfo): (meta: KernelEntryMeta) => boolean {
  if (isVersionedKernelPackage(packageName)) return (meta) => meta.package === packageName && meta.arch === arch.dpkgArch;
  // A metapackage linux-image-<flavour> stands for the releases ending in -<flavour>.
  const flavour = packageName.replace(/^linux-image-/, '');
  return (meta) => meta.arch === arch.dpkgArch && meta.release.endsWith(`-${flavour}`);
}

/**
 * The cache entry for exactly this .deb, downloading and unpacking it if it is not there yet.
 * The hash is checked before anything is unpacked: a mismatch deletes the file and leaves no entry.
 */
export async function ensureKernelEntry(ctx: Context, pin: DebianKernelPin & { size?: number }, arch: ArchInfo): Promise<KernelEntryMeta> {
  const cached = await readKernelEntry(ctx.paths.cache, pin.sha256);
  ctx.reporter.emit({ type: 'cache', what: 'kernel', hit: cached !== undefined, key: pin.sha256 });
  if (cached) return cached;
  throwIfAborted(ctx);

  // A private directory beside the entries: apt-get writes into its cwd, and a failed run
  // leaves nothing behind once this directory is removed.
  await mkdir(kernelsDir(ctx.paths.cache), { recursive: true });
  const downloadDir = await mkdtemp(join(kernelsDir(ctx.paths.cache), ownedTempPrefix('.download-')));
  try {
    ctx.reporter.emit({ type: 'download', what: `${pin.package} ${pin.version}`, ...(pin.size ? { bytes: pin.size } : {}) });
    await aptDownload(ctx, pin, arch, downloadDir);
    const debs = (await readdir(downloadDir)).filter((name) => name.endsWith('.deb'));
    if (debs.length !== 1) {
      throw new KilnError(ErrorCodes.KERNEL_DOWNLOAD_FAILED, `apt-get download left ${debs.length} .deb files instead of one`, { details: debs });
    }
    const debPath = join(downloadDir, debs[0]!);
    const actual = await sha256File(debPath);
    if (actual !== pin.sha256) {
      await unlink(debPath);
      throw new KilnError(ErrorCodes.KERNEL_HASH_MISMATCH, `${pin.package} ${pin.version} does not have the expected sha256`, {
        hint: 'if the hash comes from a lockfile, the archive now serves a different file under that version: re-resolve the kernel deliberately',
        details: [`expected ${pin.sha256}`, `actual   ${actual}`],
      });
    }
    throwIfAborted(ctx);
    ctx.reporter.emit({ type: 'step', step: 'kernel-unpack', message: `unpacking ${debs[0]}` });
    await publishDirectory(kernelEntryDir(ctx.paths.cache, pin.sha256), async (tmp) => {
      const { release } = await unpackKernelDeb(ctx, debPath, tmp);
      // Built now so the entry is complete the moment it appears, and bakes never pay for it.
      const index = await buildModuleIndex(join(tmp, 'lib/modules', release), ctx.env);
      await writeFile(join(tmp, MODULE_INDEX_FILE), serializeModuleIndex(index));
      const meta: KernelEntryMeta = { package: pin.package, version: pin.version, sha256: pin.sha256, release, arch: arch.dpkgArch };
      await writeFile(join(tmp, KERNEL_META_FILE), canonicalJson(meta));
      // mkdtemp made it private; the files are public Debian packages, and a VMM running as
      // another user (libvirt's qemu) must be able to read the kernel and modules.
      await chmod(tmp, 0o755);
    });
  } catch (error) {
    throwIfAborted(ctx); // a killed apt-get/dpkg-deb surfaces as KILN_INTERRUPTED, not as its own failure
    throw error;
  } finally {
    await rm(downloadDir, { recursive: true, force: true });
  }
  const meta = await readKernelEntry(ctx.paths.cache, pin.sha256);
  if (!meta) throw new KilnError(ErrorCodes.KERNEL_INVALID, `the cache entry for ${pin.package} ${pin.version} is incomplete`);
  return meta;
}

async function componentsFromEntry(ctx: Context, meta: KernelEntryMeta): Promise<KernelComponents> {
  const dir = kernelEntryDir(ctx.paths.cache, meta.sha256);
  const kernelPath = join(dir, KERNEL_IMAGE_FILE);
  const image = await readFile(kernelPath);
  const arch = archByDpkg(meta.arch);
  const facts = arch.kernelFormat === 'arm64-image' ? arm64Facts(image, kernelPath) : bzImageFacts(image, kernelPath);
  if (facts.release !== meta.release) {
    throw new KilnError(ErrorCodes.KERNEL_INVALID, `${kernelPath} says it is ${facts.release}, but its package ships modules for ${meta.release}`);
  }
  const configText = await readFile(join(dir, KERNEL_CONFIG_FILE), 'utf8').catch(() => undefined);
  return {
    source: { kind: 'debian', package: meta.package, version: meta.version, sha256: meta.sha256 },
    kernelPath,
    kernelSha256: sha256(image),
    modulesDir: join(dir, 'lib/modules', meta.release),
    ...(configText === undefined ? {} : { config: parseKernelConfig(configText) }),
    ...facts,
  };
}

type ImageFacts = Pick<KernelComponents, 'release' | 'format' | 'initSize' | 'setup'>;

function bzImageFacts(image: Buffer, path: string): ImageFacts {
  const setup = parseBzImage(image, path);
  return { release: setup.release, format: 'bzImage', initSize: setup.initSize, setup };
}

/** An arm64 Image is loaded as it is: the memory it needs is its image_size (text, data and BSS). */
function arm64Facts(image: Buffer, path: string): ImageFacts {
  const info = parseArm64Image(image, path);
  return { release: info.release, format: 'arm64-image', initSize: info.imageSize };
}
