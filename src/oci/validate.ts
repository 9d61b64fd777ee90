import { z } from 'zod';
import { KilnError, ErrorCodes } from '../errors.js';
import type { ImageManifest } from '../image/manifest.js';
import { IMAGE_MANIFEST_FILE } from '../image/manifest.js';
import type { Descriptor } from './client.js';
import { imageLayerFiles } from './layout.js';
import {
  DOCKER_IMAGE_CONFIG,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  KILN_CONFIG,
  KILN_LAYER_TYPES,
  OCI_IMAGE_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  TITLE_ANNOTATION,
} from './media-types.js';

/**
 * A pulled manifest is untrusted input. This file checks the OCI side of a kiln image before
 * any blob is fetched: document shape, media types, sizes, digests, layer file names. What the
 * config (image.json) says about the files is checked by the one image loader
 * (src/image/manifest.ts) once the directory is assembled, and against the layers here.
 */
const DIGEST = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex digits>');
/** Largest layer kiln takes (a disk image); sizes beyond it are refused before any download. */
export const MAX_LAYER_BYTES = 64 * 1024 ** 3;
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

const DescriptorSchema = z.object({
  mediaType: z.string().min(1),
  digest: DIGEST,
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
  artifactType: z.string().optional(),
  platform: z.object({ architecture: z.string(), os: z.string(), variant: z.string().optional() }).optional(),
});

const ManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema),
  subject: DescriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const IndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(DescriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});

export type OciManifest = z.infer<typeof ManifestSchema>;
export type OciIndex = z.infer<typeof IndexSchema>;

export type ParsedDocument = { kind: 'manifest'; manifest: OciManifest } | { kind: 'index'; index: OciIndex };

function invalid(what: string, details: string[]): KilnError {
  return new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `${what} is not a valid kiln image manifest`, { details, hint: 'push the image again with kiln push' });
}

/** Parses a manifest or index by its media type (header, then the document's own field). */
export function parseDocument(bytes: Buffer, headerType: string, what: string): ParsedDocument {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `${what} is not JSON`, { cause: error });
  }
  const declared = typeof (json as { mediaType?: unknown })?.mediaType === 'string' ? (json as { mediaType: string }).mediaType : undefined;
  const mediaType = declared ?? headerType;
  if (declared && headerType && declared !== headerType && headerType !== 'application/json') {
    throw invalid(what, [`served as ${headerType} but says it is ${declared}`]);
  }
  if (mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST) {
    const parsed = IndexSchema.safeParse(json);
    if (!parsed.success) throw invalid(what, issues(parsed.error));
    return { kind: 'index', index: parsed.data };
  }
  if (mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST) {
    const parsed = ManifestSchema.safeParse(json);
    if (!parsed.success) throw invalid(what, issues(parsed.error));
    return { kind: 'manifest', manifest: parsed.data };
  }
  throw new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `${what} has media type "${mediaType || '(none)'}", which is not an OCI manifest or index`, {
    hint: 'kiln pulls OCI image manifests and indexes (image-spec 1.1)',
  });
}

function issues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(document)'}: ${issue.message}`);
}

/** A file name a layer may have inside an image directory: one plain component, never image.json. */
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/**
 * Checks that a manifest is a kiln image's before anything is downloaded: kiln's config type
 * (a container image gets its own clear error), known layer types within size limits, and
 * unique plain file names.
 */
export function checkKilnManifest(manifest: OciManifest, what: string): void {
  const configType = manifest.config.mediaType;
  if (configType === OCI_IMAGE_CONFIG || configType === DOCKER_IMAGE_CONFIG) {
    throw new KilnError(ErrorCodes.OCI_NOT_KILN_IMAGE, `${what} is a container image, not a kiln image`, {
      hint: 'run it with a container engine; kiln runs images made by kiln push',
    });
  }
  if (configType !== KILN_CONFIG) {
    throw new KilnError(ErrorCodes.OCI_NOT_KILN_IMAGE, `${what} is not a kiln image (its config is ${configType}${manifest.artifactType ? `, artifact type ${manifest.artifactType}` : ''})`, {
      hint: `a kiln image's config has media type ${KILN_CONFIG}`,
    });
  }
  const problems: string[] = [];
  if (manifest.config.size > MAX_CONFIG_BYTES) problems.push(`config: ${manifest.config.size} bytes, more than ${MAX_CONFIG_BYTES}`);
  const names = new Set<string>();
  manifest.layers.forEach((layer, i) => {
    if (!KILN_LAYER_TYPES.has(layer.mediaType)) problems.push(`layers.${i}: media type ${layer.mediaType} is not one of a kiln image's`);
    if (layer.size > MAX_LAYER_BYTES) problems.push(`layers.${i}: ${layer.size} bytes, more than ${MAX_LAYER_BYTES}`);
    const title = layer.annotations?.[TITLE_ANNOTATION];
    if (!title || !FILE_NAME.test(title) || title === IMAGE_MANIFEST_FILE) problems.push(`layers.${i}: file name ${JSON.stringify(title ?? null)} is not a plain file name`);
    else if (names.has(title)) problems.push(`layers.${i}: file name ${title} appears twice`);
    else names.add(title);
  });
  if (problems.length > 0) throw invalid(what, problems);
}

/**
 * After the config is read: the layers must be exactly the files image.json names, each with
 * the sha256 image.json records for it (so the config and the layers describe one image).
 */
export function checkLayersMatchConfig(manifest: OciManifest, config: ImageManifest, what: string): void {
  const expected = imageLayerFiles(config);
  const byTitle = new Map(manifest.layers.map((layer) => [layer.annotations?.[TITLE_ANNOTATION] ?? '', layer] as const));
  const problems: string[] = [];
  for (const file of expected) {
    const layer = byTitle.get(file.file);
    if (!layer) problems.push(`image.json names ${file.file}, which no layer carries`);
    else if (file.sha256 && layer.digest !== `sha256:${file.sha256}`) problems.push(`${file.file}: the layer is ${layer.digest}, image.json says sha256:${file.sha256}`);
    else if (layer.mediaType !== file.mediaType) problems.push(`${file.file}: media type ${layer.mediaType}, expected ${file.mediaType}`);
    byTitle.delete(file.file);
  }
  for (const title of byTitle.keys()) problems.push(`layer ${title} is not a file image.json names`);
  if (problems.length > 0) throw invalid(what, problems);
}

/** The entry of an index for an architecture (`x86_64`/`aarch64` or OCI's `amd64`/`arm64`). */
export function choosePlatform(index: OciIndex, arch: string, what: string): Descriptor {
  const wanted = arch === 'x86_64' ? 'amd64' : arch === 'aarch64' ? 'arm64' : arch;
  const found = index.manifests.find((entry) => entry.platform?.os === 'linux' && entry.platform.architecture === wanted);
  if (!found) {
    const have = index.manifests.map((entry) => (entry.platform ? `${entry.platform.os}/${entry.platform.architecture}` : entry.digest)).join(', ');
    throw new KilnError(ErrorCodes.OCI_PLATFORM_MISSING, `${what} has no image for linux/${wanted}`, { hint: `it has: ${have || 'nothing'}; pick one with --platform` });
  }
  return found;
}
