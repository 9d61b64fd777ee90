import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { loadImage, IMAGE_MANIFEST_FILE, type ImageManifest } from '../image/manifest.js';
import { writeCpio } from '../rootfs/cpio.js';
import { canonicalJson, publishDirectory, sha256, sha256File, writeFileAtomically } from '../util/fs.js';
import { driverFor } from '../targets/registry.js';
import type { BakePlan } from './types.js';
import { imageSbom } from '../supply/sbom.js';

export interface BakeResult {
  dir: string;
  manifest: ImageManifest;
  key: string;
  cached: boolean;
}

/**
 * Writes a planned image. The image is first built once into the content-addressed cache
 * (keyed by the plan), then copied to `outputDir` if one is given; both steps build under a temporary name
 * and rename, so an interrupted bake leaves neither a partial cache entry nor a partial image.
 */
export async function applyBake(ctx: Context, plan: BakePlan, outputDir?: string): Promise<BakeResult> {
  const cacheDir = join(ctx.paths.cache, 'images', plan.key);
  const cached = await isImage(cacheDir);
  ctx.reporter.emit({ type: 'cache', what: 'image', hit: cached, key: plan.key });
  if (!cached) {
    ctx.reporter.emit({ type: 'step', step: 'bake', message: 'writing kernel and initramfs' });
    await publishDirectory(cacheDir, async (tmp) => {
      await copyFile(plan.kernelHostPath, join(tmp, 'kernel'));
      if (plan.hypervisorHostPath && plan.manifest.hypervisor) await copyFile(plan.hypervisorHostPath, join(tmp, plan.manifest.hypervisor.file));
      const initrd = await writeCpio(plan.entries, join(tmp, 'initramfs.cpio'));
      // The SBOM is derived from the planned manifest (so it stays a pure function of the inputs); the manifest pins its hash.
      const sbom = plan.manifest.components ? imageSbom(plan.manifest) : undefined;
      if (sbom) await writeFileAtomically(join(tmp, sbom.file), sbom.text);
      const manifest: ImageManifest = {
        ...plan.manifest,
        initrd: { file: 'initramfs.cpio', sha256: initrd.sha256, size: initrd.bytes },
        ...(sbom ? { sbom: { file: sbom.file, format: sbom.format, sha256: sha256(sbom.text) } } : {}),
      };
      await writeFileAtomically(join(tmp, IMAGE_MANIFEST_FILE), canonicalJson(manifest));
      // Files for other tools (xl.cfg, firecracker.json, kiln.efi, disk.raw), per the target; the
      // manifest lists them with their sha256 like every other file of the image.
      const { artifacts } = plan.target;
      await driverFor(plan.target).writeArtifacts(tmp, manifest, plan.signing);
      if (artifacts.length > 0) {
        const listed = await Promise.all(artifacts.map(async (file) => ({ file, sha256: await sha256File(join(tmp, file)), size: (await stat(join(tmp, file))).size })));
        await writeFileAtomically(join(tmp, IMAGE_MANIFEST_FILE), canonicalJson({ ...manifest, artifacts: listed }));
      }
    });
  }
  // Without an output path (kiln run) the cached image itself is used, read-only.
  const dir = outputDir ?? cacheDir;
  if (outputDir) await publishImage(cacheDir, outputDir);
  const image = await loadImage(dir);
  return { dir, manifest: image.manifest, key: plan.key, cached };
}

async function isImage(dir: string): Promise<boolean> {
  try {
    await loadImage(dir);
    return true;
  } catch {
    return false;
  }
}

/** Copies a finished image to where the user asked, replacing only an earlier kiln image. */
async function publishImage(fromDir: string, outputDir: string): Promise<void> {
  const existing = await stat(outputDir).catch(() => undefined);
  if (existing && !(await isImage(outputDir))) {
    const empty = existing.isDirectory() && (await readdir(outputDir)).length === 0;
    if (!empty) {
      throw new KilnError(ErrorCodes.OUTPUT_EXISTS, `${outputDir} exists and is not a kiln image`, {
        hint: 'choose another -o path, or remove it first',
      });
    }
    await rm(outputDir, { recursive: true });
  }
  await mkdir(dirname(outputDir), { recursive: true });
  await removeStaleStaging(outputDir);
  const staging = join(dirname(outputDir), `.${basename(outputDir)}.new-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  try {
    await mkdir(staging);
    // FICLONE shares blocks on filesystems that can (btrfs, xfs) and copies elsewhere.
    for (const file of await readdir(fromDir)) await copyFile(join(fromDir, file), join(staging, file), constants.COPYFILE_FICLONE);
    if (existing) {
      const old = join(dirname(outputDir), `.${basename(outputDir)}.old-${process.pid}`);
      await rename(outputDir, old);
      await rename(staging, outputDir);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(staging, outputDir);
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/**
 * A bake killed between staging and rename leaves `.NAME.new-PID` (or `.old-PID`) beside the
 * output; it is never mistaken for the image, and the next bake of NAME removes it once PID
 * is gone.
 */
async function removeStaleStaging(outputDir: string): Promise<void> {
  const prefix = `.${basename(outputDir)}.`;
  for (const name of await readdir(dirname(outputDir)).catch(() => [] as string[])) {
    const match = name.startsWith(prefix) ? name.slice(prefix.length).match(/^(?:new|old)-(\d+)$/) : null;
    if (match && !processAlive(Number(match[1]))) await rm(join(dirname(outputDir), name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
