import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { RegistryClient, type ClientOptions } from '../oci/client.js';
import type { PullRequest } from '../oci/pull.js';
import type { Reference } from '../oci/reference.js';
import { decryptPrivateKey, readPublicKey } from './keys.js';
import { keyPassword } from './password.js';
import type { SigningPolicy } from './policy.js';
import { resolve } from './sign.js';
import { verifyDigest, type TrustedKey, type VerifiedSignature } from './verify.js';

/**
 * Signatures (src/signing): cosign-compatible key pairs, signing images in a registry in both
 * of the container world's formats, verifying them, and signing policies for pull and run.
 */
export { generateKeyPair, encryptPrivateKey, decryptPrivateKey, readPublicKey, publicPemOf, PRIVATE_KEY_PEM } from './keys.js';
export { signImage, signatureTag, type SignResult } from './sign.js';
export { verifyDigest, type TrustedKey, type VerifiedSignature } from './verify.js';
export { loadPolicy, type SigningPolicy, type Requirement } from './policy.js';
export { keyPassword } from './password.js';
export { simpleSigningPayload, parseSimpleSigningPayload, signatureLayer, signatureManifest, buildBundle, verifyBundle, keyHint, signBytes, verifyBytes } from './formats.js';

/** A cosign private key file, decrypted with COSIGN_PASSWORD or a prompted password. */
export async function loadSigningKey(path: string, env: NodeJS.ProcessEnv): Promise<KeyObject> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    throw new KilnError(ErrorCodes.KEY_INVALID, `cannot read the key ${path}`, { cause: error });
  });
  return decryptPrivateKey(text, await keyPassword(env, false), path);
}

export async function loadTrustedKeys(paths: string[]): Promise<TrustedKey[]> {
  return Promise.all(paths.map(async (path) => {
    const text = await readFile(path, 'utf8').catch((error: unknown) => {
      throw new KilnError(ErrorCodes.KEY_INVALID, `cannot read the key ${path}`, { cause: error });
    });
    return { name: path, key: readPublicKey(text, path) };
  }));
}

/** What pull/run must check before anything is fetched: keys given on the command line, or a policy. */
export type SignatureRequirement = { keys: TrustedKey[] } | { policy: SigningPolicy };

/**
 * The hook pull calls with the resolved digest: verifies it (by digest, so a tag that moves
 * between resolve and fetch cannot swap the image) before a single layer is downloaded.
 */
export function signatureCheck(ctx: Context, reference: Reference, requirement: SignatureRequirement): NonNullable<PullRequest['beforeFetch']> {
  return async (resolved, client) => {
    const keys = 'keys' in requirement ? requirement.keys : keysFromPolicy(requirement.policy, reference);
    if (!keys) {
      ctx.reporter.emit({ type: 'info', message: `signing policy accepts ${reference.registry}/${reference.repository} without a signature` });
      return;
    }
    const verified = await verifyDigest(client, reference.repository, resolved.digest, keys, ctx.signal);
    ctx.reporter.emit({ type: 'step', step: 'verify', message: `${resolved.digest}: ${describe(verified)}` });
  };
}

function keysFromPolicy(policy: SigningPolicy, reference: Reference): TrustedKey[] | undefined {
  const requirement = policy.requirementFor(reference);
  return requirement.kind === 'accept' ? undefined : requirement.keys;
}

export function describe(verified: VerifiedSignature[]): string {
  return `signed (${verified.map((v) => `${v.format === 'sigstore-bundle' ? 'Sigstore bundle' : 'cosign signature'} by ${v.key}`).join(', ')})`;
}

export interface VerifyResult {
  digest: string;
  signatures: VerifiedSignature[];
}

/** `kiln verify REF`: resolves the reference to a digest once, then verifies that digest. */
export async function verifyImage(ctx: Context, reference: Reference, requirement: SignatureRequirement, options: ClientOptions = {}): Promise<VerifyResult> {
  const client = new RegistryClient(reference.registry, { env: ctx.env, ...options });
  try {
    const subject = await resolve(client, reference, ctx.signal);
    const keys = 'keys' in requirement ? requirement.keys : keysFromPolicy(requirement.policy, reference);
    if (!keys) return { digest: subject.digest, signatures: [] };
    return { digest: subject.digest, signatures: await verifyDigest(client, reference.repository, subject.digest, keys, ctx.signal) };
  } finally {
    await client.close();
  }
}
