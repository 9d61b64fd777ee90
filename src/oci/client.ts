import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { KilnError, ErrorCodes } from '../errors.js';
import { Authenticator } from './auth.js';
import { findCredential, type Credential } from './credentials.js';
import { MANIFEST_ACCEPT } from './media-types.js';
import { header, redact, Transport, type HttpRequest, type HttpResponse, type TransportOptions } from './transport.js';

/**
 * A small client for the OCI distribution spec (v2 API): blobs (HEAD, GET, chunked and
 * resumable uploads, cross-repository mounts) and manifests (GET, PUT) in one registry,
 * with the authentication of auth.ts and the retries of transport.ts. It knows nothing of
 * kiln images: push.ts and pull.ts decide what to send and what to accept.
 */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: { architecture: string; os: string; variant?: string };
}

export interface ClientOptions extends TransportOptions {
  /** Use this credential instead of the docker config's (kiln login checks one before storing it). */
  credential?: Credential;
  /** Upload chunk size in bytes (default 32 MiB); a blob up to this size goes in one request. */
  chunkBytes?: number;
  env?: NodeJS.ProcessEnv;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export type BlobSource = { bytes: Buffer } | { path: string };

/** Manifests are small documents; anything bigger is refused before it is read (distribution's own limit is 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const DEFAULT_CHUNK = 32 * 1024 * 1024;

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const pullScope = (repository: string) => `repository:${repository}:pull`;
const pushScope = (repository: string) => `repository:${repository}:pull,push`;

export class RegistryClient {
  readonly registry: string;
  private readonly transport: Transport;
  private readonly auth: Authenticator;
  private readonly chunkBytes: number;
  private credentialLookup: Promise<Credential | undefined> | undefined;

  constructor(registry: string, private readonly options: ClientOptions = {}) {
    this.registry = registry;
    this.transport = new Transport(registry, options);
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK;
    this.auth = new Authenticator(this.transport, () => {
      if (options.credential) return Promise.resolve(options.credential);
      this.credentialLookup ??= findCredential(registry, options.env ?? process.env);
      return this.credentialLookup;
    });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  /**
   * One request with authentication: sent with what the registry last asked for; a 401 is
   * answered once (token or basic credential) and the request sent again.
   */
  private async call(request: HttpRequest, scope: string, signal?: AbortSignal): Promise<HttpResponse> {
    for (let round = 0; ; round++) {
      const authorization = await this.auth.authorization(scope);
      const response = await this.transport.send({ ...request, headers: { ...(request.headers ?? {}), ...(authorization ? { authorization } : {}) } }, signal);
      if (response.status !== 401 || round > 0) {
        if (response.status === 401 || response.status === 403) {
          const text = await response.body.text().catch(() => '');
          throw this.authError(response.status, authorization !== undefined, text);
        }
        return response;
      }
      await response.body.dump().catch(() => {});
      if (!(await this.auth.answer(response, scope, authorization !== undefined))) throw this.authError(401, authorization !== undefined, '');
    }
  }

  private authError(status: number, sent: boolean, text: string): KilnError {
    const login = `kiln login ${this.registry} -u USER --password-stdin`;
    return new KilnError(
      ErrorCodes.REGISTRY_AUTH_FAILED,
      sent ? `registry ${this.registry} refused the credentials (HTTP ${status})` : `registry ${this.registry} wants credentials and none are stored for it (HTTP ${status})`,
      { details: registryErrors(text), hint: sent ? `check the user name and password, then ${login}` : login },
    );
  }

  /** Checks that the registry speaks the v2 API and accepts our credentials (kiln login). */
  async ping(): Promise<void> {
    const response = await this.call({ method: 'GET', url: '/v2/' }, '');
    await response.body.dump();
    if (response.status !== 200) throw this.unexpected(response, 'GET /v2/', '');
  }

  async hasBlob(repository: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const response = await this.call({ method: 'HEAD', url: `/v2/${repository}/blobs/${digest}` }, pullScope(repository), signal);
    await response.body.dump();
    if (response.status === 200) return true;
    if (response.status === 404) return false;
    throw this.unexpected(response, `HEAD blob ${digest}`, '');
  }

  /** A blob's bytes as a stream; redirects (to a storage backend) are followed without our credentials. */
  async openBlob(repository: string, digest: string, signal?: AbortSignal): Promise<HttpResponse> {
    let response = await this.call({ method: 'GET', url: `/v2/${repository}/blobs/${digest}` }, pullScope(repository), signal);
    for (let hops = 0; response.status >= 300 && response.status < 400 && hops < 5; hops++) {
      const location = header(response, 'location');
      await response.body.dump();
      if (!location) break;
      const next = new URL(location, response.url).toString();
      response = next.startsWith(this.transport.origin)
        ? await this.call({ method: 'GET', url: next }, pullScope(repository), signal)
        : await this.transport.send({ method: 'GET', url: next }, signal);
    }
    if (response.status === 404) {
      await response.body.dump();
      throw new KilnError(ErrorCodes.OCI_NOT_FOUND, `registry ${this.registry} has no blob ${digest} in ${repository}`, { hint: 'the image was deleted or only partly pushed; push it again' });
    }
    if (response.status !== 200) throw this.unexpected(response, `GET blob ${digest}`, await response.body.text().catch(() => ''));
    return response;
  }

  /** A small blob (a config, a signature payload) read into memory and checked against its descriptor. */
  async fetchBlob(repository: string, descriptor: Descriptor, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    if (descriptor.size > maxBytes) throw tooBig(descriptor, maxBytes);
    const response = await this.openBlob(repository, descriptor.digest, signal);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > descriptor.size) {
        response.body.destroy();
        throw blobMismatch(this.registry, descriptor, `more than its ${descriptor.size} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    if (bytes.length !== descriptor.size) throw blobMismatch(this.registry, descriptor, `${bytes.length} bytes, not ${descriptor.size}`);
    if (sha256Digest(bytes) !== descriptor.digest) throw blobMismatch(this.registry, descriptor, `bytes hashing to ${sha256Digest(bytes)}`);
    return bytes;
  }

  /**
   * Uploads a blob unless the repository has it: first a cross-repository mount when the
   * caller knows a repository of this registry that holds it, then a monolithic PUT (small
   * blobs) or PATCH chunks. A chunk that fails is not sent again blindly: the registry is asked
   * how much it has (GET on the upload URL, `Range: 0-N`) and the upload goes on from there.
   * Returns what happened, for progress and benchmarks.
   */
  async pushBlob(repository: string, descriptor: Descriptor, source: BlobSource, options: { mountFrom?: string; signal?: AbortSignal } = {}): Promise<'exists' | 'mounted' | 'uploaded'> {
    const { signal } = options;
    if (await this.hasBlob(repository, descriptor.digest, signal)) return 'exists';
    const scope = options.mountFrom && options.mountFrom !== repository ? `${pullScope(options.mountFrom)} ${pushScope(repository)}` : pushScope(repository);
    const query = options.mountFrom && options.mountFrom !== repository ? `?mount=${encodeURIComponent(descriptor.digest)}&from=${encodeURIComponent(options.mountFrom)}` : '';
    const start = await this.call({ method: 'POST', url: `/v2/${repository}/blobs/uploads/${query}`, headers: { 'content-length': '0' } }, scope, signal);
    await start.body.dump();
    if (start.status === 201 && query) return 'mounted';
    if (start.status !== 202) throw this.unexpected(start, `start upload of ${descriptor.digest}`, '');
    let location = this.location(start);
    const reader = await openSource(source);
    try {
      if (descriptor.size <= this.chunkBytes) {
        const bytes = await reader.read(0, descriptor.size);
        const done = await this.call({ method: 'PUT', url: withDigest(location, descriptor.digest), headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }, body: bytes }, pushScope(repository), signal);
        await this.finishUpload(done, descriptor);
        return 'uploaded';
      }
      let offset = 0;
      let failures = 0;
      while (offset < descriptor.size) {
        const length = Math.min(this.chunkBytes, descriptor.size - offset);
        const bytes = await reader.read(offset, length);
        let response: HttpResponse | undefined;
        try {
          response = await this.call({
            method: 'PATCH',
            url: location,
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + length - 1}`, 'content-length': String(length) },
            body: bytes,
            once: true,
          }, pushScope(repository), signal);
        } catch (error) {
          if (signal?.aborted || !(error instanceof KilnError) || error.code !== ErrorCodes.REGISTRY_UNREACHABLE || ++failures > 4) throw error;
        }
        if (response && response.status === 202) {
          await response.body.dump();
          location = this.location(response);
          offset = rangeEnd(response) ?? offset + length;
          continue;
        }
        if (response) {
          const text = await response.body.text().catch(() => '');
          if (response.status !== 416 && response.status < 500) throw this.unexpected(response, `upload chunk of ${descriptor.digest}`, text);
          if (++failures > 4) throw this.unexpected(response, `upload chunk of ${descriptor.digest}`, text);
        }
        // Resume: ask the registry how many bytes it kept.
        const state = await this.call({ method: 'GET', url: location }, pushScope(repository), signal);
        await state.body.dump();
        if (state.status !== 204) throw this.unexpected(state, `upload status of ${descriptor.digest}`, '');
        location = this.location(state);
        offset = rangeEnd(state) ?? 0;
      }
      const done = await this.call({ method: 'PUT', url: withDigest(location, descriptor.digest), headers: { 'content-length': '0' } }, pushScope(repository), signal);
      await this.finishUpload(done, descriptor);
      return 'uploaded';
    } finally {
      await reader.close();
    }
  }

  private async finishUpload(response: HttpResponse, descriptor: Descriptor): Promise<void> {
    const text = await response.body.text().catch(() => '');
    if (response.status === 400 && /DIGEST_INVALID|SIZE_INVALID/.test(text)) throw blobMismatch(this.registry, descriptor, 'bytes the registry hashed differently');
    if (response.status !== 201) throw this.unexpected(response, `finish upload of ${descriptor.digest}`, text);
  }

  /** GET a manifest (or index) by tag or digest, bounded in size and checked against its digest. */
  async getManifest(repository: string, selector: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const response = await this.call({ method: 'GET', url: `/v2/${repository}/manifests/${selector}`, headers: { accept: MANIFEST_ACCEPT } }, pullScope(repository), signal);
    if (response.status === 404) {
      await response.body.dump();
      throw new KilnError(ErrorCodes.OCI_NOT_FOUND, `registry ${this.registry} has no manifest ${repository}${selector.startsWith('sha256:') ? '@' : ':'}${selector}`, {
        hint: 'check the repository and tag (kiln push first)',
      });
    }
    if (response.status !== 200) throw this.unexpected(response, `GET manifest ${selector}`, await response.body.text().catch(() => ''));
    const length = Number(header(response, 'content-length') ?? '0');
    if (length > MAX_MANIFEST_BYTES) {
      response.body.destroy();
      throw new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `registry ${this.registry}: manifest ${selector} is ${length} bytes, more than the ${MAX_MANIFEST_BYTES} kiln accepts`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_MANIFEST_BYTES) {
        response.body.destroy();
        throw new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `registry ${this.registry}: manifest ${selector} is more than ${MAX_MANIFEST_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    const digest = sha256Digest(bytes);
    if (selector.startsWith('sha256:') && digest !== selector) {
      throw new KilnError(ErrorCodes.OCI_DIGEST_MISMATCH, `registry ${this.registry} served manifest ${selector} with bytes hashing to ${digest}`, { hint: 'the registry or something between is corrupting data; nothing was stored' });
    }
    const claimed = header(response, 'docker-content-digest');
    if (claimed && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new KilnError(ErrorCodes.OCI_DIGEST_MISMATCH, `registry ${this.registry} says manifest ${selector} is ${claimed}, but its bytes hash to ${digest}`);
    }
    const mediaType = (header(response, 'content-type') ?? '').split(';')[0]!.trim();
    return { bytes, mediaType, digest };
  }

  /** True when the registry has this manifest (HEAD), without reading it. */
  async hasManifest(repository: string, selector: string, signal?: AbortSignal): Promise<boolean> {
    const response = await this.call({ method: 'HEAD', url: `/v2/${repository}/manifests/${selector}`, headers: { accept: MANIFEST_ACCEPT } }, pullScope(repository), signal);
    await response.body.dump();
    if (response.status === 200) return true;
    if (response.status === 404) return false;
    throw this.unexpected(response, `HEAD manifest ${selector}`, '');
  }

  /** PUT a manifest under a tag or its digest; returns its digest (checked against the registry's). */
  async putManifest(repository: string, selector: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string> {
    const digest = sha256Digest(bytes);
    const response = await this.call({ method: 'PUT', url: `/v2/${repository}/manifests/${selector}`, headers: { 'content-type': mediaType, 'content-length': String(bytes.length) }, body: bytes }, pushScope(repository), signal);
    const text = await response.body.text().catch(() => '');
    if (response.status !== 201) throw this.unexpected(response, `PUT manifest ${selector}`, text);
    const claimed = header(response, 'docker-content-digest');
    if (claimed && claimed !== digest) throw new KilnError(ErrorCodes.OCI_DIGEST_MISMATCH, `registry ${this.registry} stored manifest ${selector} as ${claimed}, kiln computed ${digest}`);
    return digest;
  }

  /** The referrers API's index for a digest, or undefined when the registry has no such API (404). */
  async getReferrers(repository: string, digest: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    const response = await this.call({ method: 'GET', url: `/v2/${repository}/referrers/${digest}`, headers: { accept: 'application/vnd.oci.image.index.v1+json' } }, pullScope(repository), signal);
    const text = await response.body.text().catch(() => '');
    const type = header(response, 'content-type') ?? '';
    if (response.status === 200 && type.startsWith('application/vnd.oci.image.index.v1+json')) return Buffer.from(text);
    return undefined;
  }

  private location(response: HttpResponse): string {
    const location = header(response, 'location');
    if (!location) throw new KilnError(ErrorCodes.REGISTRY_ERROR, `registry ${this.registry} answered an upload request without a Location`);
    return new URL(location, response.url).toString();
  }

  private unexpected(response: HttpResponse, what: string, text: string): KilnError {
    if (response.status === 403) return this.authError(403, true, text);
    return new KilnError(ErrorCodes.REGISTRY_ERROR, `registry ${this.registry} answered HTTP ${response.status} to ${what} (${redact(response.url)})`, { details: registryErrors(text) });
  }
}

/** The `errors[].code: message` lines of a distribution error body, or its first characters. */
function registryErrors(text: string): string[] {
  if (!text.trim()) return [];
  try {
    const body = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    if (Array.isArray(body.errors)) return body.errors.map((e) => `${e.code ?? 'ERROR'}: ${e.message ?? ''}`.trim());
  } catch {
    // not JSON: show it as it is
  }
  return [text.trim().slice(0, 400)];
}

function withDigest(location: string, digest: string): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.toString();
}

/** `Range: 0-N` (N inclusive) → the next offset, N+1. */
function rangeEnd(response: HttpResponse): number | undefined {
  const match = (header(response, 'range') ?? '').match(/^(?:bytes=)?0-(\d+)$/);
  return match ? Number(match[1]) + 1 : undefined;
}

/** A blob whose bytes disagree with its descriptor (client downloads and the store's streaming check share it). */
export function blobMismatch(registry: string, descriptor: Descriptor, what: string): KilnError {
  return new KilnError(ErrorCodes.OCI_DIGEST_MISMATCH, `blob ${descriptor.digest} from ${registry} does not match its descriptor: ${what}`, {
    hint: 'the registry or something between is corrupting data; nothing was stored',
  });
}

function tooBig(descriptor: Descriptor, maxBytes: number): KilnError {
  return new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `blob ${descriptor.digest} claims ${descriptor.size} bytes, more than the ${maxBytes} kiln accepts for a ${descriptor.mediaType}`);
}

interface SourceReader {
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

async function openSource(source: BlobSource): Promise<SourceReader> {
  if ('bytes' in source) return { read: async (offset, length) => source.bytes.subarray(offset, offset + length), close: async () => {} };
  const handle = await open(source.path, 'r');
  return {
    async read(offset, length) {
      const buffer = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
        if (bytesRead === 0) throw new KilnError(ErrorCodes.IMAGE_INVALID, `${source.path} changed while it was being pushed (shorter than before)`);
        done += bytesRead;
      }
      return buffer;
    },
    close: () => handle.close(),
  };
}
