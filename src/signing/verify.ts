import type { KeyObject } from 'node:crypto';
import { KilnError, ErrorCodes, isKilnError } from '../errors.js';
import type { Descriptor, RegistryClient } from '../oci/client.js';
import { COSIGN_SIGNATURE_ANNOTATION, SIGSTORE_BUNDLE_V03 } from '../oci/media-types.js';
import { listReferrers } from '../oci/referrers.js';
import { parseSimpleSigningPayload, verifyBundle, verifyBytes } from './formats.js';
import { existingSignatureLayers, signatureTag } from './sign.js';

/** A public key a signature may be made with, named by where it came from (for messages). */
export interface TrustedKey {
  name: string;
  key: KeyObject;
}

export interface VerifiedSignature {
  format: 'cosign-simple-signing' | 'sigstore-bundle';
  key: string;
  /** The docker-reference a simple-signing payload names (the repository it was signed in). */
  dockerReference?: string;
}

/** Signature payloads and bundles are small; bigger ones are not read. */
const MAX_SIGNATURE_BYTES = 1024 * 1024;

/**
 * Checks that a manifest digest carries a signature by one of the keys, in either format.
 * Always by digest: whatever a tag says later, the signature is over these bytes. Throws
 * KILN_SIGNATURE_MISSING when there is no signature at all, KILN_SIGNATURE_INVALID when there
 * are some but none verifies with these keys for this digest (each reason listed).
 */
export async function verifyDigest(client: RegistryClient, repository: string, digest: string, keys: TrustedKey[], signal?: AbortSignal): Promise<VerifiedSignature[]> {
  const verified: VerifiedSignature[] = [];
  const problems: string[] = [];
  let found = 0;
  const tag = signatureTag(digest);
  for (const layer of await existingSignatureLayers(client, repository, tag, signal)) {
    found++;
    const signature = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
    if (!signature) {
      problems.push(`${tag}: layer ${layer.digest} has no signature annotation`);
      continue;
    }
    const payload = await fetchSmall(client, repository, layer, signal, problems);
    if (!payload) continue;
    const signer = keys.find(({ key }) => verifyBytes(key, payload, Buffer.from(signature, 'base64')));
    if (!signer) {
      problems.push(`${tag}: layer ${layer.digest.slice(0, 19)}: the signature does not verify with ${keys.map((k) => k.name).join(' or ')}`);
      continue;
    }
    const claims = parseSimpleSigningPayload(payload);
    if (typeof claims === 'string') problems.push(`${tag}: ${claims}`);
    else if (claims.manifestDigest !== digest) problems.push(`${tag}: the signed payload names ${claims.manifestDigest}, not ${digest}`);
    else verified.push({ format: 'cosign-simple-signing', key: signer.name, dockerReference: claims.dockerReference });
  }
  for (const referrer of await listReferrers(client, repository, digest, signal)) {
    if (referrer.artifactType !== SIGSTORE_BUNDLE_V03) continue;
    found++;
    let layer: Descriptor | undefined;
    try {
      const manifest = JSON.parse((await client.getManifest(repository, referrer.digest, signal)).bytes.toString('utf8')) as { layers?: Descriptor[] };
      layer = manifest.layers?.find((entry) => entry?.mediaType === SIGSTORE_BUNDLE_V03);
    } catch (error) {
      if (!isKilnError(error)) throw error;
      problems.push(`bundle ${referrer.digest.slice(0, 19)}: ${error.message}`);
      continue;
    }
    if (!layer) {
      problems.push(`bundle ${referrer.digest.slice(0, 19)}: no bundle layer`);
      continue;
    }
    const bytes = await fetchSmall(client, repository, layer, signal, problems);
    if (!bytes) continue;
    let matched = false;
    const reasons: string[] = [];
    for (const trusted of keys) {
      const result = verifyBundle(bytes, trusted.key);
      if (typeof result === 'string') reasons.push(result);
      else if (!result.digests.includes(digest)) reasons.push(`its statement names ${result.digests.join(', ')}, not ${digest}`);
      else {
        verified.push({ format: 'sigstore-bundle', key: trusted.name });
        matched = true;
        break;
      }
    }
    if (!matched) problems.push(`bundle ${referrer.digest.slice(0, 19)}: ${reasons.join('; ')}`);
  }
  if (verified.length > 0) return verified;
  if (found === 0) {
    throw new KilnError(ErrorCodes.SIGNATURE_MISSING, `${client.registry}/${repository}@${digest} is not signed (no ${tag} signature, no Sigstore bundle referrer)`, {
      hint: 'sign it with kiln sign REF --key KEY, or do not ask for a signature for this image',
    });
  }
  throw new KilnError(ErrorCodes.SIGNATURE_INVALID, `no signature of ${client.registry}/${repository}@${digest} verifies with ${keys.map((k) => k.name).join(' or ')}`, {
    details: problems,
    hint: 'the image was signed with another key, or the signature or image was changed; nothing was launched',
  });
}

async function fetchSmall(client: RegistryClient, repository: string, layer: Descriptor, signal: AbortSignal | undefined, problems: string[]): Promise<Buffer | undefined> {
  try {
    return await client.fetchBlob(repository, layer, MAX_SIGNATURE_BYTES, signal);
  } catch (error) {
    if (!isKilnError(error)) throw error;
    problems.push(`${layer.digest.slice(0, 19)}: ${error.message}`);
    return undefined;
  }
}
