import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { loadImage, IMAGE_MANIFEST_FILE, type LoadedImage } from '../image/manifest.js';
import { canonicalJson, writeFileAtomically } from '../util/fs.js';
import { RegistryClient, sha256Digest, type ClientOptions, type Descriptor } from './client.js';
import { EMPTY_CONFIG, EMPTY_CONFIG_BYTES, imageAnnotations, imageIndex, imageLayerFiles, kilnImageManifest, layerDescriptor, ociArchitecture, referrerManifest, createdAnnotation, type BuiltManifest } from './layout.js';
import { CYCLONEDX_JSON, KILN_CONFIG, SBOM_ARTIFACT_TYPE, TITLE_ANNOTATION } from './media-types.js';
import { formatReference, type Reference } from './reference.js';
import { attachReferrer } from './referrers.js';
import { ociRoot } from './store.js';
import { buildContainerDisk, CONTAINERDISK_PATH } from './containerdisk.js';

export interface PushRequest {
  /** One image directory, or one per architecture (then an image index is pushed). */
  images: string[];
  reference: Reference;
  /** `linux/amd64,linux/arm64`: the platforms the images must be exactly (checked, not chosen). */
  platforms?: string[];
  /** org.opencontainers.image.source. */
  source?: string;
  /** Push each (disk-target) image as a KubeVirt containerDisk instead of a kiln image. */
  containerdisk?: boolean;
  /** Attach the SBOM as a referrer (default true when the image has one). */
  sbomReferrer?: boolean;
  client?: ClientOptions;
}

export interface BlobOutcome {
  digest: string;
  size: number;
  outcome: 'exists' | 'mounted' | 'uploaded';
}

export interface PushResult {
  /** The digest the reference now names (the manifest, or the index for several images). */
  digest: string;
  mediaType: string;
  size: number;
  reference: string;
  /** Per image: its manifest digest and architecture. */
  manifests: Array<{ digest: string; arch: string }>;
  blobs: BlobOutcome[];
  sbom?: { digest: string; via: 'referrers-api' | 'tag-fallback' };
}

/** Pushes kiln images to a registry: blobs first (skipped when present, mounted when another repository has them), then the manifest(s). */
export async function push(ctx: Context, request: PushRequest): Promise<PushResult> {
  if (request.images.length === 0) throw new KilnError(ErrorCodes.USAGE, 'nothing to push');
  if (request.reference.digest) throw new KilnError(ErrorCodes.OCI_REFERENCE_INVALID, `push to a tag, not a digest: ${formatReference(request.reference)}`, { hint: 'the digest is what push prints' });
  const loaded = await Promise.all(request.images.map((dir) => loadImage(dir)));
  checkPlatforms(loaded, request.platforms);
  const client = new RegistryClient(request.reference.registry, { env: ctx.env, ...request.client });
  const { repository } = request.reference;
  const tag = request.reference.tag ?? 'latest';
  const mounts = await readMountRecord(ctx, request.reference.registry);
  try {
    const blobs: BlobOutcome[] = [];
    const manifests: Array<{ built: BuiltManifest; image: LoadedImage }> = [];
    for (const image of loaded) {
      const built = request.containerdisk ? await pushContainerDisk(ctx, client, repository, image, mounts, blobs) : await pushImageBlobs(ctx, client, repository, image, request, mounts, blobs);
      manifests.push({ built, image });
    }
    let top: BuiltManifest;
    if (manifests.length === 1) {
      top = manifests[0]!.built;
    } else {
      for (const { built } of manifests) await client.putManifest(repository, built.descriptor.digest, built.bytes, built.descriptor.mediaType, ctx.signal);
      top = imageIndex(manifests.map(({ built, image }) => ({ manifest: built.descriptor, arch: image.manifest.arch })), { 'org.opencontainers.image.created': createdAnnotation(ctx.env.SOURCE_DATE_EPOCH) });
    }
    await client.putManifest(repository, tag, top.bytes, top.descriptor.mediaType, ctx.signal);
    ctx.reporter.emit({ type: 'step', step: 'push', message: `pushed ${request.reference.registry}/${repository}:${tag}@${top.descriptor.digest}` });
    let sbom: PushResult['sbom'];
    if (request.sbomReferrer !== false) {
      for (const { built, image } of manifests) {
        const attached = await attachSbom(ctx, client, repository, built.descriptor, image);
        sbom ??= attached;
      }
    }
    await writeMountRecord(ctx, request.reference.registry, mounts, blobs, repository);
    return {
      digest: top.descriptor.digest,
      mediaType: top.descriptor.mediaType,
      size: top.descriptor.size,
      reference: `${request.reference.registry}/${repository}:${tag}`,
      manifests: manifests.map(({ built, image }) => ({ digest: built.descriptor.digest, arch: image.manifest.arch })),
      blobs,
      ...(sbom ? { sbom } : {}),
    };
  } finally {
    await client.close();
  }
}

/** The manifest kiln pushes for an image directory, without pushing (same bytes, same digest). */
export async function describeImage(ctx: Context, image: LoadedImage, source?: string): Promise<{ built: BuiltManifest; config: { descriptor: Descriptor; bytes: Buffer }; layers: Array<{ descriptor: Descriptor; path: string }> }> {
  const configBytes = await readFile(join(image.dir, IMAGE_MANIFEST_FILE));
  const config: Descriptor = { mediaType: KILN_CONFIG, digest: sha256Digest(configBytes), size: configBytes.length };
  const layers = await Promise.all(imageLayerFiles(image.manifest).map(async (layer) => {
    const path = join(image.dir, layer.file);
    const info = await stat(path).catch((error: unknown) => {
      throw new KilnError(ErrorCodes.IMAGE_INVALID, `${path} is missing from the image`, { cause: error, hint: 'bake the image again' });
    });
    const digest = layer.sha256 ? `sha256:${layer.sha256}` : sha256Digest(await readFile(path));
    return { descriptor: layerDescriptor(layer, digest, info.size), path };
  }));
  const built = kilnImageManifest(config, layers.map((layer) => layer.descriptor), imageAnnotations(image.manifest, { sourceDateEpoch: ctx.env.SOURCE_DATE_EPOCH, source }));
  return { built, config: { descriptor: config, bytes: configBytes }, layers };
}

async function pushImageBlobs(ctx: Context, client: RegistryClient, repository: string, image: LoadedImage, request: PushRequest, mounts: Record<string, string>, outcomes: BlobOutcome[]): Promise<BuiltManifest> {
  const { built, config, layers } = await describeImage(ctx, image, request.source);
  const uploads: Array<{ descriptor: Descriptor; source: { bytes: Buffer } | { path: string } }> = [
    { descriptor: config.descriptor, source: { bytes: config.bytes } },
    ...layers.map((layer) => ({ descriptor: layer.descriptor, source: { path: layer.path } })),
  ];
  for (const { descriptor, source } of uploads) {
    const mountFrom = mounts[descriptor.digest];
    const outcome = await client.pushBlob(repository, descriptor, source, { ...(mountFrom ? { mountFrom } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) });
    outcomes.push({ digest: descriptor.digest, size: descriptor.size, outcome });
    const name = descriptor.annotations?.[TITLE_ANNOTATION] ?? 'image.json';
    ctx.reporter.emit({ type: 'step', step: 'push', message: `${name}: ${outcome === 'exists' ? 'already there' : outcome} (${descriptor.digest.slice(7, 19)}, ${descriptor.size} bytes)` });
  }
  return built;
}

async function pushContainerDisk(ctx: Context, client: RegistryClient, repository: string, image: LoadedImage, mounts: Record<string, string>, outcomes: BlobOutcome[]): Promise<BuiltManifest> {
  const disk = await buildContainerDisk(ctx, image);
  try {
    for (const { descriptor, source, name } of [
      { descriptor: disk.config.descriptor, source: { bytes: disk.config.bytes }, name: 'config' },
      { descriptor: disk.layer.descriptor, source: { path: disk.layer.path }, name: `layer (${CONTAINERDISK_PATH})` },
    ]) {
      const mountFrom = mounts[descriptor.digest];
      const outcome = await client.pushBlob(repository, descriptor, source, { ...(mountFrom ? { mountFrom } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) });
      outcomes.push({ digest: descriptor.digest, size: descriptor.size, outcome });
      ctx.reporter.emit({ type: 'step', step: 'push', message: `containerDisk ${name}: ${outcome === 'exists' ? 'already there' : outcome} (${descriptor.size} bytes)` });
    }
    return disk.built;
  } finally {
    await disk.cleanup();
  }
}

async function attachSbom(ctx: Context, client: RegistryClient, repository: string, subject: Descriptor, image: LoadedImage): Promise<PushResult['sbom']> {
  const sbom = image.manifest.sbom;
  if (!sbom) return undefined;
  const path = join(image.dir, sbom.file);
  const size = (await stat(path)).size;
  const layer: Descriptor = { mediaType: CYCLONEDX_JSON, digest: `sha256:${sbom.sha256}`, size, annotations: { [TITLE_ANNOTATION]: sbom.file } };
  const artifact = referrerManifest(SBOM_ARTIFACT_TYPE, [layer], subject, { 'org.opencontainers.image.created': createdAnnotation(ctx.env.SOURCE_DATE_EPOCH) });
  // The SBOM blob is one of the image's own layers, already in the repository.
  await client.pushBlob(repository, layer, { path }, ctx.signal ? { signal: ctx.signal } : {});
  await client.pushBlob(repository, EMPTY_CONFIG, { bytes: EMPTY_CONFIG_BYTES }, ctx.signal ? { signal: ctx.signal } : {});
  const via = await attachReferrer(client, repository, subject, artifact, ctx.signal);
  ctx.reporter.emit({ type: 'step', step: 'push', message: `SBOM attached as ${artifact.descriptor.digest} (${via === 'tag-fallback' ? 'referrers tag fallback' : 'referrers API'})` });
  return { digest: artifact.descriptor.digest, via };
}

function checkPlatforms(images: LoadedImage[], platforms: string[] | undefined): void {
  const arches = images.map((image) => ociArchitecture(image.manifest.arch));
  if (new Set(arches).size !== arches.length) {
    throw new KilnError(ErrorCodes.USAGE, `two of the images are for the same architecture (${arches.join(', ')})`, { hint: 'an image index holds one image per architecture' });
  }
  if (!platforms) return;
  const wanted = platforms.map((platform) => platform.trim()).filter(Boolean).sort();
  const have = arches.map((arch) => `linux/${arch}`).sort();
  if (wanted.join(',') !== have.join(',')) {
    throw new KilnError(ErrorCodes.USAGE, `--platform ${wanted.join(',')} does not match the images given (${have.join(', ')})`, {
      hint: 'bake the app once per architecture (--arch) and pass every image: kiln push hello-amd64.img hello-arm64.img REF --platform linux/amd64,linux/arm64',
    });
  }
}

/**
 * Which repository of a registry kiln last pushed each blob to, so a push to another
 * repository can mount the blob instead of uploading it again.
 */
function mountRecordPath(ctx: Context, registry: string): string {
  return join(ociRoot(ctx), 'pushed', `${sha256Digest(registry).slice(7, 31)}.json`);
}

async function readMountRecord(ctx: Context, registry: string): Promise<Record<string, string>> {
  try {
    const value = JSON.parse(await readFile(mountRecordPath(ctx, registry), 'utf8')) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, string>) : {};
  } catch {
    return {};
  }
}

async function writeMountRecord(ctx: Context, registry: string, record: Record<string, string>, blobs: BlobOutcome[], repository: string): Promise<void> {
  const next = { ...record };
  for (const blob of blobs) next[blob.digest] ??= repository;
  await writeFileAtomically(mountRecordPath(ctx, registry), canonicalJson(next));
}
