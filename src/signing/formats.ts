import { createHash, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { DSSEBundleBuilder } from '@sigstore/sign';
import { bundleFromJSON, bundleToJSON, type Bundle } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { canonicalJson } from '../util/fs.js';
import { sha256Digest, type Descriptor } from '../oci/client.js';
import { COSIGN_SIGNATURE_ANNOTATION, COSIGN_SIMPLE_SIGNING, OCI_IMAGE_CONFIG, OCI_MANIFEST, SIGSTORE_BUNDLE_V03 } from '../oci/media-types.js';

/**
 * The two signature formats the container world verifies, both over a manifest digest:
 *
 * 1. cosign's "simple signing": a JSON payload naming the image (docker-reference) and its
 *    manifest digest, signed with ECDSA P-256/SHA-256 (ASN.1 DER, base64 in the layer's
 *    `dev.cosignproject.cosign/signature` annotation), stored as an image under the tag
 *    `sha256-<hex>.sig` whose layers are the payloads. What registries without a referrers API
 *    (docker-registry 2.8) can hold; cosign 1.x/2.x and kiln verify it.
 * 2. A Sigstore bundle v0.3 (what cosign 3 attaches): a DSSE envelope over an in-toto
 *    statement whose subject is the manifest digest and whose predicate type is cosign's
 *    "sign/v1", with the public key's hint; no transparency log (keys only, no Fulcio or
 *    Rekor here). Built and verified with the official @sigstore/sign and @sigstore/verify.
 */
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** cosign's payload, field for field in cosign's own order (its bytes are what is signed). */
export function simpleSigningPayload(dockerReference: string, manifestDigest: string): Buffer {
  return Buffer.from(JSON.stringify({
    critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': manifestDigest }, type: SIMPLE_SIGNING_TYPE },
    optional: null,
  }));
}

export interface SimpleSigningClaims {
  dockerReference: string;
  manifestDigest: string;
}

/** The claims of a payload, or a reason it is not one of cosign's. */
export function parseSimpleSigningPayload(bytes: Buffer): SimpleSigningClaims | string {
  let value: { critical?: { identity?: { 'docker-reference'?: unknown }; image?: { 'docker-manifest-digest'?: unknown }; type?: unknown } };
  try {
    value = JSON.parse(bytes.toString('utf8')) as typeof value;
  } catch {
    return 'the payload is not JSON';
  }
  const critical = value?.critical;
  if (critical?.type !== SIMPLE_SIGNING_TYPE) return `the payload's type is ${JSON.stringify(critical?.type)}, not "${SIMPLE_SIGNING_TYPE}"`;
  const digest = critical.image?.['docker-manifest-digest'];
  const reference = critical.identity?.['docker-reference'];
  if (typeof digest !== 'string' || typeof reference !== 'string') return 'the payload names no image digest or reference';
  return { dockerReference: reference, manifestDigest: digest };
}

/** ECDSA/RSA/Ed25519 signature over the bytes with SHA-256 (Ed25519 signs the message itself), DER for ECDSA. */
export function signBytes(key: KeyObject, bytes: Buffer): Buffer {
  return cryptoSign(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', bytes, key);
}

export function verifyBytes(key: KeyObject, bytes: Buffer, signature: Buffer): boolean {
  try {
    return cryptoVerify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', bytes, key, signature);
  } catch {
    return false;
  }
}

/** The config cosign writes for a signature image (fixed times, so equal layers give equal bytes). */
export function signatureConfig(layers: Descriptor[]): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: '',
    created: '0001-01-01T00:00:00Z',
    history: [{ created: '0001-01-01T00:00:00Z' }],
    os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.digest) },
    config: {},
  }));
}

/** A simple-signing layer: the payload's descriptor with its signature in the annotation. */
export function signatureLayer(payload: Buffer, signature: Buffer): Descriptor {
  return { mediaType: COSIGN_SIMPLE_SIGNING, digest: sha256Digest(payload), size: payload.length, annotations: { [COSIGN_SIGNATURE_ANNOTATION]: signature.toString('base64') } };
}

/** The manifest of the `sha256-<hex>.sig` image over its layers (config first, as cosign does). */
export function signatureManifest(layers: Descriptor[]): { manifest: Buffer; config: Buffer; configDescriptor: Descriptor } {
  const config = signatureConfig(layers);
  const configDescriptor: Descriptor = { mediaType: OCI_IMAGE_CONFIG, digest: sha256Digest(config), size: config.length };
  const manifest = Buffer.from(canonicalJson({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDescriptor, layers }));
  return { manifest, config, configDescriptor };
}

/** cosign's key hint: base64 of the sha256 of the public key's DER (SPKI). */
export function keyHint(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

/** The in-toto statement cosign 3 signs for an image. */
export function signStatement(repository: string, manifestDigest: string): Buffer {
  return Buffer.from(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: repository, digest: { sha256: manifestDigest.replace(/^sha256:/, '') } }],
    predicateType: COSIGN_SIGN_PREDICATE,
    predicate: {},
  }));
}

/** A Sigstore bundle v0.3 (JSON bytes) signing the statement for this image with the key. */
export async function buildBundle(privateKey: KeyObject, repository: string, manifestDigest: string): Promise<Buffer> {
  const publicKey = createPublicKey(privateKey);
  const hint = keyHint(publicKey);
  const builder = new DSSEBundleBuilder({
    signer: {
      sign: async (data: Buffer) => ({ signature: signBytes(privateKey, data), key: { $case: 'publicKey', publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), hint } }),
    },
    witnesses: [],
  });
  const bundle = await builder.create({ data: signStatement(repository, manifestDigest), type: IN_TOTO_PAYLOAD_TYPE });
  return Buffer.from(JSON.stringify(bundleToJSON(bundle)));
}

/**
 * Verifies a bundle's signature with the key (through @sigstore/verify, with no transparency
 * log or timestamp required: there is none for key-pair signatures made here) and returns
 * the manifest digests its statement names, or a reason.
 */
export function verifyBundle(bytes: Buffer, publicKey: KeyObject): { digests: string[] } | string {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(JSON.parse(bytes.toString('utf8')));
  } catch (error) {
    return `not a Sigstore bundle: ${(error as Error).message}`;
  }
  if (bundle.mediaType !== SIGSTORE_BUNDLE_V03 && !bundle.mediaType.startsWith('application/vnd.dev.sigstore.bundle')) return `media type ${bundle.mediaType}`;
  if (bundle.content.$case !== 'dsseEnvelope') return 'not a DSSE bundle';
  const trust = toTrustMaterial({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] }, () => ({ publicKey, validFor: () => true }));
  try {
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));
  } catch (error) {
    return `the signature does not verify with this key (${(error as Error).message})`;
  }
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) return `payload type ${envelope.payloadType}`;
  try {
    const statement = JSON.parse(envelope.payload.toString('utf8')) as { predicateType?: string; subject?: Array<{ digest?: { sha256?: string } }> };
    if (statement.predicateType !== COSIGN_SIGN_PREDICATE) return `predicate type ${String(statement.predicateType)}`;
    return { digests: (statement.subject ?? []).map((subject) => `sha256:${subject.digest?.sha256 ?? ''}`) };
  } catch {
    return 'the statement is not JSON';
  }
}
