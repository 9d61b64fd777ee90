import type { ImageManifest } from '../image/manifest.js';
import { canonicalJson } from '../util/fs.js';
import type { Descriptor } from './client.js';
import { sha256Digest } from './client.js';
import { CYCLONEDX_JSON, KILN_ARTIFACT, KILN_CONFIG, KILN_INITRD, KILN_KERNEL, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, TITLE_ANNOTATION } from './media-types.js';

/**
 * How a kiln image directory maps onto OCI image-spec 1.1 (pure functions; push.ts does the
 * I/O): image.json is the config blob (kiln's own media type, byte for byte), and every other
 * file the manifest names is one layer, in a fixed order (kernel, initramfs, SBOM, the target's
 * artifacts), titled with its file name. Manifests are canonical JSON, and their annotations
 * come from the image and SOURCE_DATE_EPOCH only, so one image always gives one digest.
 */
export interface ImageFileLayer {
  file: string;
  mediaType: string;
  /** The sha256 image.json records for the file, when it records one. */
  sha256?: string;
}

export function imageLayerFiles(manifest: ImageManifest): ImageFileLayer[] {
  const layers: ImageFileLayer[] = [
    { file: manifest.kernel.file, mediaType: KILN_KERNEL, sha256: manifest.kernel.sha256 },
    { file: manifest.initrd.file, mediaType: KILN_INITRD, sha256: manifest.initrd.sha256 },
  ];
  if (manifest.sbom) layers.push({ file: manifest.sbom.file, mediaType: CYCLONEDX_JSON, sha256: manifest.sbom.sha256 });
  for (const artifact of manifest.artifacts ?? []) layers.push({ file: artifact.file, mediaType: KILN_ARTIFACT, sha256: artifact.sha256 });
  return layers;
}

export interface AnnotationInputs {
  /** $SOURCE_DATE_EPOCH, as the environment gives it. */
  sourceDateEpoch?: string | undefined;
  /** org.opencontainers.image.source, when the user names one (--source URL). */
  source?: string | undefined;
}

/** `created` from SOURCE_DATE_EPOCH (1970-01-01 without it, as kiln's SBOMs do): never the wall clock. */
export function createdAnnotation(sourceDateEpoch: string | undefined): string {
  const seconds = sourceDateEpoch && /^\d+$/.test(sourceDateEpoch) ? Number(sourceDateEpoch) : 0;
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

export function imageAnnotations(manifest: ImageManifest, inputs: AnnotationInputs): Record<string, string> {
  const app = manifest.components?.find((component) => component.kind === 'app');
  const annotations: Record<string, string> = {
    'org.opencontainers.image.created': createdAnnotation(inputs.sourceDateEpoch),
    'org.opencontainers.image.title': manifest.app.guestPath.split('/').pop() ?? 'app',
    'dev.kiln.image.target': manifest.target,
    'dev.kiln.image.arch': manifest.arch,
  };
  if (app?.version) annotations['org.opencontainers.image.version'] = app.version;
  if (app?.license && app.license !== 'NOASSERTION') annotations['org.opencontainers.image.licenses'] = app.license;
  if (inputs.source) annotations['org.opencontainers.image.source'] = inputs.source;
  return annotations;
}

export interface BuiltManifest {
  bytes: Buffer;
  descriptor: Descriptor;
}

function built(bytes: Buffer, mediaType: string, extra: Partial<Descriptor> = {}): BuiltManifest {
  return { bytes, descriptor: { mediaType, digest: sha256Digest(bytes), size: bytes.length, ...extra } };
}

export function layerDescriptor(layer: ImageFileLayer, digest: string, size: number): Descriptor {
  return { mediaType: layer.mediaType, digest, size, annotations: { [TITLE_ANNOTATION]: layer.file } };
}

/** The image manifest of a kiln image. */
export function kilnImageManifest(config: Descriptor, layers: Descriptor[], annotations: Record<string, string>): BuiltManifest {
  const bytes = Buffer.from(canonicalJson({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...config, mediaType: KILN_CONFIG }, layers, annotations }));
  return built(bytes, OCI_MANIFEST);
}

/** OCI platform names for kiln's architectures. */
export function ociArchitecture(arch: string): string {
  return arch === 'x86_64' ? 'amd64' : arch === 'aarch64' ? 'arm64' : arch;
}

/** An image index over one manifest per architecture, sorted by platform so its digest does not depend on argument order. */
export function imageIndex(entries: Array<{ manifest: Descriptor; arch: string }>, annotations: Record<string, string>): BuiltManifest {
  const manifests = entries
    .map(({ manifest, arch }) => ({ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size, platform: { architecture: ociArchitecture(arch), os: 'linux' } }))
    .sort((a, b) => a.platform.architecture.localeCompare(b.platform.architecture));
  return built(Buffer.from(canonicalJson({ schemaVersion: 2, mediaType: OCI_INDEX, manifests, annotations })), OCI_INDEX);
}

/** The empty config of an artifact manifest (image-spec 1.1's `{}`). */
export const EMPTY_CONFIG_BYTES = Buffer.from('{}');
export const EMPTY_CONFIG: Descriptor = { mediaType: OCI_EMPTY, digest: sha256Digest(EMPTY_CONFIG_BYTES), size: 2 };

/** An artifact that refers to another manifest (`subject`): an SBOM, a Sigstore bundle. */
export function referrerManifest(artifactType: string, layers: Descriptor[], subject: Descriptor, annotations: Record<string, string>): BuiltManifest {
  const bytes = Buffer.from(canonicalJson({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: EMPTY_CONFIG,
    layers,
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  }));
  return built(bytes, OCI_MANIFEST, { artifactType, annotations });
}

/** The referrers tag schema's tag for a digest: `sha256-<hex>`. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}
