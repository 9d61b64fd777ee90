import { access, readFile, rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { KilnError, ErrorCodes } from '../../errors.js';
import { sha256 } from '../../util/fs.js';
import { requireProgram, run } from '../../util/exec.js';
import type { SigningRequest, Target } from '../types.js';

export type { SigningRequest } from '../types.js';

/**
 * Secure Boot signing of the UKI an efi/disk image carries for other firmware (kiln.efi and the
 * copy on disk.raw's ESP), with Debian's sbsigntool. The firmware boots it only if the
 * certificate (or one above it) is in its `db`; the key never enters the image or its
 * manifest, which records the certificate's sha256 so a different signer is a different image.
 */
export interface Signing extends SigningRequest {
  /** sha256 of the certificate file (PEM), recorded in the manifest. */
  certSha256: string;
}

/** Checks a signing request before the slow steps of a bake; undefined when none was asked. */
export async function planSigning(target: Pick<Target, 'name' | 'boot'>, request: SigningRequest | undefined): Promise<Signing | undefined> {
  if (!request) return undefined;
  if (target.boot !== 'uki' && target.boot !== 'gpt-esp-uki') {
    throw new KilnError(ErrorCodes.TARGET_CANNOT_CARRY, `only UKIs are signed for Secure Boot; ${target.name} images have none`, {
      hint: 'bake with --target efi or --target disk to sign',
    });
  }
  const keyPath = resolve(request.keyPath);
  const certPath = resolve(request.certPath);
  await access(keyPath).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.USAGE, `the signing key ${request.keyPath} cannot be read`, { cause: error, hint: 'give a PEM private key with --sign-key' });
  });
  const cert = await readFile(certPath).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.USAGE, `the signing certificate ${request.certPath} cannot be read`, { cause: error, hint: 'give a PEM X.509 certificate with --sign-cert' });
  });
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) {
    throw new KilnError(ErrorCodes.USAGE, `${request.certPath} is not a PEM certificate`, { hint: 'convert a DER one with: openssl x509 -inform der -in CERT -out CERT.pem' });
  }
  await requireProgram('sbsign');
  return { keyPath, certPath, certSha256: sha256(cert) };
}

/** Signs the PE file at `path` in place (sbsign writes a new file, renamed over the old one). */
export async function signPe(path: string, signing: SigningRequest): Promise<void> {
  const signed = `${path}.signed`;
  try {
    await run('sbsign', ['--key', signing.keyPath, '--cert', signing.certPath, '--output', signed, path]);
    await rename(signed, path);
  } finally {
    await rm(signed, { force: true });
  }
}
