import { KilnError, ErrorCodes, isKilnError } from '../errors.js';
import { canonicalJson } from '../util/fs.js';
import type { Descriptor, RegistryClient } from './client.js';
import { referrersTag, type BuiltManifest } from './layout.js';
import { OCI_INDEX } from './media-types.js';

/**
 * Artifacts that refer to an image (SBOM, Sigstore bundle) are pushed as manifests with a
 * `subject`. A registry with the referrers API lists them itself; for one without it (Debian's
 * docker-registry 2.8), the distribution spec's fallback is kept by hand: an image index under
 * the tag `sha256-<hex>` of the subject, listing every referrer's descriptor.
 */
export async function attachReferrer(client: RegistryClient, repository: string, subject: Descriptor, artifact: BuiltManifest, signal?: AbortSignal): Promise<'referrers-api' | 'tag-fallback'> {
  await client.putManifest(repository, artifact.descriptor.digest, artifact.bytes, artifact.descriptor.mediaType, signal);
  if (await hasReferrersApi(client, repository, subject.digest, signal)) return 'referrers-api';
  const tag = referrersTag(subject.digest);
  const existing = await readFallbackIndex(client, repository, tag, signal);
  if (!existing.some((entry) => entry.digest === artifact.descriptor.digest)) {
    const manifests = [...existing, artifact.descriptor].sort((a, b) => a.digest.localeCompare(b.digest));
    await client.putManifest(repository, tag, Buffer.from(canonicalJson({ schemaVersion: 2, mediaType: OCI_INDEX, manifests })), OCI_INDEX, signal);
  }
  return 'tag-fallback';
}

/** Every referrer of a digest, from the referrers API or the tag fallback. */
export async function listReferrers(client: RegistryClient, repository: string, digest: string, signal?: AbortSignal): Promise<Descriptor[]> {
  const api = await referrersFromApi(client, repository, digest, signal);
  if (api) return api;
  return readFallbackIndex(client, repository, referrersTag(digest), signal);
}

async function hasReferrersApi(client: RegistryClient, repository: string, digest: string, signal?: AbortSignal): Promise<boolean> {
  return (await referrersFromApi(client, repository, digest, signal)) !== undefined;
}

async function referrersFromApi(client: RegistryClient, repository: string, digest: string, signal?: AbortSignal): Promise<Descriptor[] | undefined> {
  const answer = await client.getReferrers(repository, digest, signal);
  if (!answer) return undefined;
  return parseIndexEntries(answer, `referrers of ${digest}`);
}

async function readFallbackIndex(client: RegistryClient, repository: string, tag: string, signal?: AbortSignal): Promise<Descriptor[]> {
  try {
    const fetched = await client.getManifest(repository, tag, signal);
    return parseIndexEntries(fetched.bytes, `tag ${tag}`);
  } catch (error) {
    if (isKilnError(error, ErrorCodes.OCI_NOT_FOUND)) return [];
    throw error;
  }
}

function parseIndexEntries(bytes: Buffer, what: string): Descriptor[] {
  let index: { manifests?: unknown };
  try {
    index = JSON.parse(bytes.toString('utf8')) as { manifests?: unknown };
  } catch (error) {
    throw new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `the referrers index (${what}) is not JSON`, { cause: error });
  }
  if (!Array.isArray(index.manifests)) throw new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `the referrers index (${what}) has no manifests list`);
  return (index.manifests as Descriptor[]).filter((entry) => entry && typeof entry.digest === 'string' && typeof entry.mediaType === 'string' && typeof entry.size === 'number');
}
