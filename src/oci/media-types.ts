/**
 * Media types kiln writes and reads. The OCI ones are the image-spec 1.1 names; kiln's own
 * say what each blob of a kiln image is, so a registry browser or `skopeo inspect` shows it and
 * a pull can refuse anything else. Documented in the README's "Media types" table.
 */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const OCI_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_IMAGE_CONFIG = 'application/vnd.docker.container.image.v1+json';

/** The config blob of a kiln image: its image.json, byte for byte. */
export const KILN_CONFIG = 'application/vnd.kiln.image.config.v1+json';
/** The kernel (bzImage, PVH vmlinux or arm64 Image). */
export const KILN_KERNEL = 'application/vnd.kiln.image.kernel.v1';
/** The initramfs, a newc cpio archive. */
export const KILN_INITRD = 'application/vnd.kiln.image.initrd.v1.cpio';
/** The CycloneDX SBOM that image.json pins. */
export const CYCLONEDX_JSON = 'application/vnd.cyclonedx+json';
/** A target's file for other tools (xl.cfg, firecracker.json, kiln.efi, disk.raw, …). */
export const KILN_ARTIFACT = 'application/vnd.kiln.image.artifact.v1';
/** artifactType of the SBOM referrer that points at a pushed image. */
export const SBOM_ARTIFACT_TYPE = CYCLONEDX_JSON;

/** cosign's simple-signing layer and its signature annotation (the `sha256-<hex>.sig` tag scheme). */
export const COSIGN_SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** A Sigstore bundle, as cosign v3 attaches it (referrer, or the referrers tag fallback). */
export const SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** The annotation that names a layer's file (also what ORAS uses), so the image directory can be rebuilt. */
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';

/** Every layer media type a kiln image may have; a pull refuses others. */
export const KILN_LAYER_TYPES: ReadonlySet<string> = new Set([KILN_KERNEL, KILN_INITRD, CYCLONEDX_JSON, KILN_ARTIFACT]);

/** What an Accept header asks for when fetching a manifest by tag or digest. */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ');
