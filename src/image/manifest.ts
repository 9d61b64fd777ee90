import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { KilnError, ErrorCodes } from '../errors.js';
import { ComponentSchema } from './components.js';

/**
 * image.json: the manifest of a baked image directory. It describes everything inside the
 * image (each file with its sha256), so an image can be launched, inspected and audited with
 * nothing but the directory. Bumping IMAGE_FORMAT is required for incompatible changes.
 */
export const IMAGE_FORMAT = 1;
export const IMAGE_MANIFEST_FILE = 'image.json';

const sha = z.string().regex(/^[0-9a-f]{64}$/);

export const ImageFileSchema = z.object({
  path: z.string(),
  kind: z.enum(['file', 'dir', 'symlink', 'chardev']),
  role: z.enum(['init', 'app', 'program', 'interpreter', 'library', 'module', 'config', 'skeleton', 'data']),
  mode: z.number().int(),
  size: z.number().int().optional(),
  sha256: sha.optional(),
  target: z.string().optional(),
});

export const ImageManifestSchema = z.object({
  format: z.literal(IMAGE_FORMAT),
  target: z.string(),
  arch: z.string(),
  cmdline: z.string(),
  kernel: z.object({
    file: z.string(),
    sha256: sha,
    release: z.string(),
    initSize: z.number().int(),
    source: z.union([
      z.object({ kind: z.literal('debian'), package: z.string(), version: z.string(), sha256: sha }),
      z.object({ kind: z.literal('local'), path: z.string(), sha256: sha }),
    ]),
  }),
  initrd: z.object({ file: z.string(), sha256: sha, size: z.number().int() }),
  /** xen-host target: the hypervisor QEMU boots first (its file in the image, and the Debian package it came from). */
  hypervisor: z
    .object({ file: z.string(), sha256: sha, source: z.object({ kind: z.literal('debian'), package: z.string(), version: z.string(), sha256: sha }) })
    .optional(),
  app: z.object({
    guestPath: z.string(),
    args: z.array(z.string()),
    env: z.record(z.string(), z.string()),
    workdir: z.string().optional(),
    linkage: z.enum(['static', 'dynamic']),
    interpreter: z.string().optional(),
    sha256: sha,
    /** From the app's kiln provenance note, when the kiln wrappers built it. */
    provenance: z.object({ tuple: z.string(), wrapper: z.string(), compiler: z.string() }).optional(),
  }),
  componentSets: z.array(z.string()),
  modules: z.array(z.object({ name: z.string(), path: z.string(), sha256: sha })),
  shim: z.object({ sha256: sha, compiler: z.string() }),
  memory: z.object({ minimumMiB: z.number().int(), defaultMiB: z.number().int() }),
  files: z.array(ImageFileSchema),
  /** supply: src/supply's SUPPLY_FORMAT (inventory + SBOM), so the cache key covers that code; absent in older images. */
  kiln: z.object({ version: z.string(), supply: z.number().int().positive().optional() }),
  /** Files for other tools that the target adds beside the image (xl.cfg, firecracker.json, kiln.efi, disk.raw, …). */
  artifacts: z.array(z.object({ file: z.string(), sha256: sha, size: z.number().int() })).optional(),
  /** disk target: a second GPT partition (ext4, named and labelled `label`) that the image's own UKI mounts at `mount`. */
  dataPartition: z.object({ label: z.string(), sizeMiB: z.number().int().positive(), mount: z.string() }).optional(),
  /** efi/disk targets: the standalone UKI is signed for Secure Boot with the key of this certificate (sha256 of its PEM file). */
  signing: z.object({ certSha256: sha }).optional(),
  /** What the image is made of (src/supply/inventory.ts); absent in images baked before kiln recorded it. */
  components: z.array(ComponentSchema).optional(),
  /** The Debian release the host files came from (purls, OSV's "Debian:12"). */
  distro: z.object({ id: z.string(), versionId: z.string().optional(), codename: z.string().optional() }).optional(),
  /** The SBOM written beside image.json at bake, derived from this manifest; its hash pins it. */
  sbom: z.object({ file: z.string(), format: z.literal('cyclonedx-1.5'), sha256: sha }).optional(),
});

export type ImageManifest = z.infer<typeof ImageManifestSchema>;
export type ImageFile = z.infer<typeof ImageFileSchema>;

export interface LoadedImage {
  dir: string;
  manifest: ImageManifest;
  kernelPath: string;
  initrdPath: string;
  /** The hypervisor an xen-host image boots first. */
  hypervisorPath?: string;
}

export async function loadImage(dir: string): Promise<LoadedImage> {
  const manifestPath = join(dir, IMAGE_MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KilnError(ErrorCodes.IMAGE_NOT_FOUND, code === 'ENOENT' || code === 'ENOTDIR' ? `${dir} is not a kiln image (no ${IMAGE_MANIFEST_FILE})` : `cannot read ${manifestPath}`, {
      hint: 'bake one first: kiln bake APP -o IMAGE',
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new KilnError(ErrorCodes.IMAGE_INVALID, `${manifestPath} is not valid JSON`, { cause: error, hint: 'bake the image again' });
  }
  const parsed = ImageManifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new KilnError(ErrorCodes.IMAGE_INVALID, `${manifestPath} is not a valid kiln image manifest`, {
      details: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
      hint: 'bake the image again with this version of kiln',
    });
  }
  const { hypervisor } = parsed.data;
  return { dir, manifest: parsed.data, kernelPath: join(dir, parsed.data.kernel.file), initrdPath: join(dir, parsed.data.initrd.file), ...(hypervisor ? { hypervisorPath: join(dir, hypervisor.file) } : {}) };
}
