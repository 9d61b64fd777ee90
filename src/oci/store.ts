import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { exists } from '../util/fs.js';
import { blobMismatch, type Descriptor, type RegistryClient } from './client.js';

/**
 * The store of pulled images, under `<cache>/oci/`:
 *   blobs/sha256/<hex>   every blob and manifest kiln pulled, named by its digest; a file gets
 *                        there only by rename after its bytes were hashed and sized (so a
 *                        killed pull leaves only `.tmp-*` files, which the next pull ignores)
 *   images/<hex>/        a kiln image directory rebuilt from the manifest <hex> (hard links to
 *                        the blobs), published by rename once the image loader accepted it
 * Blobs are immutable: what is there was verified when it entered.
 */
export function ociRoot(ctx: Context): string {
  return join(ctx.paths.cache, 'oci');
}

export function blobPath(ctx: Context, digest: string): string {
  return join(ociRoot(ctx), 'blobs', 'sha256', digest.slice('sha256:'.length));
}

export function imagePath(ctx: Context, manifestDigest: string): string {
  return join(ociRoot(ctx), 'images', manifestDigest.slice('sha256:'.length));
}


/** Stores bytes already in memory (manifests, configs) after checking them against their digest. */
export async function storeBytes(ctx: Context, digest: string, bytes: Buffer): Promise<string> {
  const path = blobPath(ctx, digest);
  if (await exists(path)) return path;
  const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (actual !== digest) throw new KilnError(ErrorCodes.OCI_DIGEST_MISMATCH, `bytes for ${digest} hash to ${actual}; nothing was stored`);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
  return path;
}

/**
 * Downloads a blob into the store unless it is there: the bytes are hashed and counted as they
 * stream to a temporary file, and renamed into place only when digest and size match the
 * descriptor. A broken stream is retried (bounded) from the start.
 */
export async function fetchIntoStore(ctx: Context, client: RegistryClient, repository: string, descriptor: Descriptor, attempts = 3): Promise<{ path: string; fetched: boolean }> {
  const path = blobPath(ctx, descriptor.digest);
  if (await exists(path)) return { path, fetched: false };
  await mkdir(dirname(path), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const tmp = `${path}.tmp-${process.pid}-${attempt}`;
    try {
      const response = await client.openBlob(repository, descriptor.digest, ctx.signal);
      const hash = createHash('sha256');
      let size = 0;
      const check = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          if (size > descriptor.size) return callback(blobMismatch(client.registry, descriptor, `more than its ${descriptor.size} bytes`));
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      await pipeline(response.body, check, createWriteStream(tmp));
      const digest = `sha256:${hash.digest('hex')}`;
      if (size !== descriptor.size) throw blobMismatch(client.registry, descriptor, `${size} bytes, not ${descriptor.size}`);
      if (digest !== descriptor.digest) throw blobMismatch(client.registry, descriptor, `bytes hashing to ${digest}`);
      await rename(tmp, path);
      return { path, fetched: true };
    } catch (error) {
      await rm(tmp, { force: true });
      const retryable = !(error instanceof KilnError) && !ctx.signal?.aborted;
      if (!retryable || attempt >= attempts) throw error instanceof KilnError ? error : new KilnError(ErrorCodes.REGISTRY_UNREACHABLE, `registry ${client.registry}: the download of ${descriptor.digest} broke off ${attempt} times`, { cause: error });
    }
  }
}

/** Puts a stored blob into an image directory under its file name (a hard link; a copy across file systems). */
export async function placeBlob(ctx: Context, digest: string, to: string): Promise<void> {
  const from = blobPath(ctx, digest);
  await link(from, to).catch(() => copyFile(from, to));
}

export async function readStored(ctx: Context, digest: string): Promise<Buffer | undefined> {
  return readFile(blobPath(ctx, digest)).catch(() => undefined);
}
