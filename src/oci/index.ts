/** OCI distribution (src/oci): registry references, the registry client, push, pull and the store of pulled images. */
export { parseReference, formatReference, looksLikeReference, isDigest, repositoryName, type Reference } from './reference.js';
export { RegistryClient, sha256Digest, type ClientOptions, type Descriptor, type FetchedManifest } from './client.js';
export { findCredential, storeCredential, eraseCredential, dockerConfigPath, type Credential } from './credentials.js';
export { push, describeImage, type PushRequest, type PushResult, type BlobOutcome } from './push.js';
export { pull, hostArch, type PullRequest, type PullResult, type ResolvedImage } from './pull.js';
export { imageLayerFiles, imageAnnotations, kilnImageManifest, imageIndex, referrerManifest, referrersTag, createdAnnotation } from './layout.js';
export { attachReferrer, listReferrers } from './referrers.js';
export * as mediaTypes from './media-types.js';
