import type { KeyObject } from 'node:crypto';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes, isKilnError } from '../errors.js';
import { RegistryClient, sha256Digest, type ClientOptions, type Descriptor } from '../oci/client.js';
import { createdAnnotation, EMPTY_CONFIG, EMPTY_CONFIG_BYTES, referrerManifest } from '../oci/layout.js';
import { OCI_MANIFEST, SIGSTORE_BUNDLE_V03, COSIGN_SIMPLE_SIGNING } from '../oci/media-types.js';
import { manifestSelector, repositoryName, type Reference } from '../oci/reference.js';
import { attachReferrer } from '../oci/referrers.js';
import { buildBundle, COSIGN_SIGN_PREDICATE, signatureLayer, signatureManifest, signBytes, simpleSigningPayload } from './formats.js';

/** The cosign tag that holds an image's simple signatures: `sha256-<hex>.sig`. */
export function signatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

export interface SignResult {
  digest: string;
  signatureTag: string;
  bundle: { digest: string; via: 'referrers-api' | 'tag-fallback' };
}

/**
 * Signs the manifest a reference names (resolved to its digest first, so a tag moving later
 * does not move the signature): cosign's simple signature under `sha256-<hex>.sig` (added to
 * the signatures already there) and a Sigstore bundle attached as a referrer.
 */
export async function signImage(ctx: Context, reference: Reference, privateKey: KeyObject, options: ClientOptions = {}, knownDigest?: Descriptor): Promise<SignResult> {
  const client = new RegistryClient(reference.registry, { env: ctx.env, ...options });
  const { repository } = reference;
  try {
    const subject = knownDigest ?? (await resolve(client, reference, ctx.signal));
    const payload = simpleSigningPayload(repositoryName(reference), subject.digest);
    const layer = signatureLayer(payload, signBytes(privateKey, payload));
    const tag = signatureTag(subject.digest);
    const layers = [...(await existingSignatureLayers(client, repository, tag, ctx.signal)).filter((old) => old.digest !== layer.digest || old.annotations?.['dev.cosignproject.cosign/signature'] !== layer.annotations!['dev.cosignproject.cosign/signature']), layer];
    const { manifest, config, configDescriptor } = signatureManifest(layers);
    await client.pushBlob(repository, layer, { bytes: payload }, ctx.signal ? { signal: ctx.signal } : {});
    await client.pushBlob(repository, configDescriptor, { bytes: config }, ctx.signal ? { signal: ctx.signal } : {});
    await client.putManifest(repository, tag, manifest, OCI_MANIFEST, ctx.signal);
    ctx.reporter.emit({ type: 'step', step: 'sign', message: `signed ${subject.digest} (cosign signature in ${repository}:${tag})` });

    const bundleBytes = await buildBundle(privateKey, repositoryName(reference), subject.digest);
    const bundleLayer: Descriptor = { mediaType: SIGSTORE_BUNDLE_V03, digest: sha256Digest(bundleBytes), size: bundleBytes.length };
    await client.pushBlob(repository, bundleLayer, { bytes: bundleBytes }, ctx.signal ? { signal: ctx.signal } : {});
    await client.pushBlob(repository, EMPTY_CONFIG, { bytes: EMPTY_CONFIG_BYTES }, ctx.signal ? { signal: ctx.signal } : {});
    const artifact = referrerManifest(SIGSTORE_BUNDLE_V03, [bundleLayer], subject, {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE,
      'org.opencontainers.image.created': createdAnnotation(ctx.env.SOURCE_DATE_EPOCH),
    });
    const via = await attachReferrer(client, repository, subject, artifact, ctx.signal);
    ctx.reporter.emit({ type: 'step', step: 'sign', message: `Sigstore bundle attached as ${artifact.descriptor.digest} (${via === 'tag-fallback' ? 'referrers tag fallback' : 'referrers API'})` });
    return { digest: subject.digest, signatureTag: tag, bundle: { digest: artifact.descriptor.digest, via } };
  } finally {
    await client.close();
  }
}

/** The descriptor of the manifest a reference names now. */
export async function resolve(client: RegistryClient, reference: Reference, signal?: AbortSignal): Promise<Descriptor> {
  const fetched = await client.getManifest(reference.repository, manifestSelector(reference), signal);
  return { mediaType: fetched.mediaType || OCI_MANIFEST, digest: fetched.digest, size: fetched.bytes.length };
}

/** The simple-signing layers already under the `.sig` tag (none when there is no such tag). */
export async function existingSignatureLayers(client: RegistryClient, repository: string, tag: string, signal?: AbortSignal): Promise<Descriptor[]> {
  try {
    const fetched = await client.getManifest(repository, tag, signal);
    const manifest = JSON.parse(fetched.bytes.toString('utf8')) as { layers?: Descriptor[] };
    if (!Array.isArray(manifest.layers)) throw new Error('no layers');
    return manifest.layers.filter((layer) => layer?.mediaType === COSIGN_SIMPLE_SIGNING && typeof layer.digest === 'string');
  } catch (error) {
    if (isKilnError(error, ErrorCodes.OCI_NOT_FOUND)) return [];
    if (error instanceof KilnError) throw error;
    throw new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `${repository}:${tag} is not a cosign signature image`, { cause: error });
  }
}
