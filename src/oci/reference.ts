import { KilnError, ErrorCodes } from '../errors.js';

/**
 * Vocabulary of this layer (one place, used by every file in src/oci):
 * - Reference: where an image lives, `HOST[:PORT]/REPO[:TAG][@DIGEST]` as the user typed it.
 *   kiln has no default registry: the host is always spelled out.
 * - Digest: `sha256:<64 hex>`, the identity of a blob or manifest (its bytes' hash).
 * - Descriptor: { mediaType, digest, size } pointing at a blob or manifest.
 * - Blob: content-addressed bytes in one repository (config, layers).
 * - Manifest: the JSON document naming a config and layers; an index names manifests.
 */
export interface Reference {
  /** `HOST` or `HOST:PORT`, lower-case, as the registry is addressed. */
  registry: string;
  /** The repository path, e.g. `me/hello`. */
  repository: string;
  tag?: string;
  digest?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
// The distribution spec's grammar for repository path components and tags.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?$/;

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

/** True when the argument looks like a registry reference rather than a local path or app. */
export function looksLikeReference(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash <= 0) return false;
  const host = text.slice(0, slash);
  return (host.includes('.') || host.includes(':') || host === 'localhost') && HOST.test(host) && !text.startsWith('./') && !text.startsWith('../');
}

export function parseReference(text: string): Reference {
  const bad = (why: string) =>
    new KilnError(ErrorCodes.OCI_REFERENCE_INVALID, `"${text}" is not a registry reference: ${why}`, {
      hint: 'write HOST[:PORT]/REPOSITORY[:TAG][@sha256:DIGEST], e.g. localhost:5000/me/hello:1.0',
    });
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`the digest "${digest}" is not sha256:<64 lower-case hex digits>`);
  }
  const slash = rest.indexOf('/');
  if (slash <= 0) throw bad('it names no registry host');
  const registry = rest.slice(0, slash).toLowerCase();
  if (!HOST.test(registry) || !(registry.includes('.') || registry.includes(':') || registry === 'localhost')) {
    throw bad(`"${registry}" is not a registry host (kiln has no default registry; a host has a dot, a port, or is localhost)`);
  }
  let path = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`the tag "${tag}" has characters a tag may not have`);
  }
  if (path.length === 0 || path.length > 255) throw bad('the repository name is empty or too long');
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) throw bad(`the repository part "${component}" must be lower-case letters, digits and . _ -`);
  }
  return { registry, repository: path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** What a manifest request names: the digest when there is one (it cannot move), else the tag, else `latest`. */
export function manifestSelector(ref: Reference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The repository without tag or digest: what cosign's simple-signing payload calls the docker-reference. */
export function repositoryName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** True for registries on this machine, where plain HTTP is acceptable without --insecure. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.replace(/:\d+$/, '');
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}
