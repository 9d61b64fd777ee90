import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { loadImage, ImageManifestSchema, IMAGE_MANIFEST_FILE, type LoadedImage } from '../image/manifest.js';
import { publishDirectory } from '../util/fs.js';
import { RegistryClient, type ClientOptions, type Descriptor } from './client.js';
import { TITLE_ANNOTATION } from './media-types.js';
import { formatReference, manifestSelector, type Reference } from './reference.js';
import { fetchIntoStore, imagePath, placeBlob, readStored, storeBytes } from './store.js';
import { exists } from '../util/fs.js';
import { checkKilnManifest, checkLayersMatchConfig, choosePlatform, MAX_CONFIG_BYTES, parseDocument, type OciManifest } from './validate.js';

export interface PullRequest {
  reference: Reference;
  /** Which image of an index: kiln's arch name or OCI's (default: this host's). */
  arch?: string;
  client?: ClientOptions;
  /**
   * Called with the resolved digests before any layer is fetched (signature checks go here, so
   * an image that fails them is never downloaded, let alone launched).
   */
  beforeFetch?: (resolved: ResolvedImage, client: RegistryClient) => Promise<void>;
}

export interface ResolvedImage {
  /** The digest the reference named or resolved to (an index's, for a multi-arch image). */
  digest: string;
  /** The image manifest's own digest (the chosen one, for an index). */
  manifestDigest: string;
  mediaType: string;
  size: number;
}

export interface PullResult extends ResolvedImage {
  dir: string;
  image: LoadedImage;
  /** True when the image was already in the store (a pull by digest then uses no network). */
  cached: boolean;
  fetchedBytes: number;
}

export function hostArch(): string {
  return process.arch === 'arm64' ? 'aarch64' : 'x86_64';
}

/**
 * Pulls a kiln image into the store and returns its directory. By digest, an image already in
 * the store is returned without any network traffic (a digest cannot move). Otherwise the
 * manifest is fetched and checked, the config and layers are downloaded and verified into the
 * blob store, and the image directory is assembled, checked by the image loader and published
 * in one rename.
 */
export async function pull(ctx: Context, request: PullRequest): Promise<PullResult> {
  const arch = request.arch ?? hostArch();
  const what = formatReference(request.reference);
  if (request.reference.digest && !request.beforeFetch) {
    const local = await fromStore(ctx, request.reference.digest, arch, what);
    if (local) return local;
  }
  const client = new RegistryClient(request.reference.registry, { env: ctx.env, ...request.client });
  try {
    const { repository } = request.reference;
    const top = await client.getManifest(repository, manifestSelector(request.reference), ctx.signal);
    let document = parseDocument(top.bytes, top.mediaType, what);
    let manifestDigest = top.digest;
    let manifestBytes = top.bytes;
    if (document.kind === 'index') {
      const entry = choosePlatform(document.index, arch, what);
      const child = await client.getManifest(repository, entry.digest, ctx.signal);
      document = parseDocument(child.bytes, child.mediaType, `${what} (${arch})`);
      if (document.kind !== 'manifest') throw new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `${what}: the index entry for ${arch} is itself an index`);
      manifestDigest = child.digest;
      manifestBytes = child.bytes;
    }
    const manifest = document.manifest;
    checkKilnManifest(manifest, what);
    const resolved: ResolvedImage = { digest: top.digest, manifestDigest, mediaType: top.mediaType, size: top.bytes.length };
    if (request.beforeFetch) await request.beforeFetch(resolved, client);
    const dir = imagePath(ctx, manifestDigest);
    if (await exists(join(dir, IMAGE_MANIFEST_FILE))) {
      await storeBytes(ctx, top.digest, top.bytes);
      return { ...resolved, dir, image: await loadImage(dir), cached: true, fetchedBytes: 0 };
    }
    const fetchedBytes = await fetchImage(ctx, client, repository, manifest, manifestDigest, what);
    await storeBytes(ctx, manifestDigest, manifestBytes);
    if (top.digest !== manifestDigest) await storeBytes(ctx, top.digest, top.bytes);
    ctx.reporter.emit({ type: 'step', step: 'pull', message: `pulled ${what} as ${manifestDigest} (${fetchedBytes} bytes fetched)` });
    return { ...resolved, dir, image: await loadImage(dir), cached: false, fetchedBytes };
  } finally {
    await client.close();
  }
}

/** The image for a digest when the store has it (the digest may be an index's: its entry for `arch` is used). */
async function fromStore(ctx: Context, digest: string, arch: string, what: string): Promise<PullResult | undefined> {
  const bytes = await readStored(ctx, digest);
  if (!bytes) return undefined;
  const document = parseDocument(bytes, '', what);
  const manifestDigest = document.kind === 'index' ? choosePlatform(document.index, arch, what).digest : digest;
  const dir = imagePath(ctx, manifestDigest);
  if (!(await exists(join(dir, IMAGE_MANIFEST_FILE)))) return undefined;
  ctx.reporter.emit({ type: 'cache', what: 'pulled image', hit: true, key: manifestDigest.slice(7) });
  return { digest, manifestDigest, mediaType: '', size: bytes.length, dir, image: await loadImage(dir), cached: true, fetchedBytes: 0 };
}

async function fetchImage(ctx: Context, client: RegistryClient, repository: string, manifest: OciManifest, manifestDigest: string, what: string): Promise<number> {
  // The config first: it is small, and it says which files the layers must be.
  const configBytes = (await readStored(ctx, manifest.config.digest)) ?? (await client.fetchBlob(repository, manifest.config as Descriptor, MAX_CONFIG_BYTES, ctx.signal));
  let fetchedBytes = configBytes.length;
  let json: unknown;
  try {
    json = JSON.parse(configBytes.toString('utf8'));
  } catch (error) {
    throw new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `${what}: its config (image.json) is not JSON`, { cause: error });
  }
  const config = ImageManifestSchema.safeParse(json);
  if (!config.success) {
    throw new KilnError(ErrorCodes.OCI_MANIFEST_INVALID, `${what}: its config is not a kiln image.json this kiln can read`, {
      details: config.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
      hint: 'it may come from a newer kiln; upgrade kiln, or push the image again with this one',
    });
  }
  checkLayersMatchConfig(manifest, config.data, what);
  await storeBytes(ctx, manifest.config.digest, configBytes);
  for (const layer of manifest.layers) {
    const { fetched } = await fetchIntoStore(ctx, client, repository, layer as Descriptor);
    if (fetched) fetchedBytes += layer.size;
    ctx.reporter.emit({ type: 'step', step: 'pull', message: `${layer.annotations?.[TITLE_ANNOTATION]}: ${fetched ? 'fetched' : 'already in the store'} (${layer.size} bytes)` });
  }
  await publishDirectory(imagePath(ctx, manifestDigest), async (tmp) => {
    await writeFile(join(tmp, IMAGE_MANIFEST_FILE), configBytes);
    for (const layer of manifest.layers) await placeBlob(ctx, layer.digest, join(tmp, layer.annotations![TITLE_ANNOTATION]!));
    // The one image loader decides whether the assembled directory is a usable kiln image.
    await loadImage(tmp);
  });
  return fetchedBytes;
}

