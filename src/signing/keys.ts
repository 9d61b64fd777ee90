import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scrypt, type KeyObject } from 'node:crypto';
import { secretbox } from '@noble/ciphers/salsa.js';
import { KilnError, ErrorCodes } from '../errors.js';

/**
 * Key pairs in cosign's format, so cosign, skopeo/podman (sigstore) and kiln read each
 * other's keys: an ECDSA P-256 key; the private half is PKCS#8 DER encrypted with the
 * go-securesystemslib "encrypted" envelope (scrypt N=32768 r=8 p=1 → a NaCl secretbox key,
 * random 32-byte salt and 24-byte nonce) written as JSON in a PEM block "ENCRYPTED SIGSTORE
 * PRIVATE KEY"; the public half is a plain SPKI "PUBLIC KEY" PEM (what openssl reads).
 */
export const PRIVATE_KEY_PEM = 'ENCRYPTED SIGSTORE PRIVATE KEY';
/** What cosign before 2.0 wrote; read, never written. */
const LEGACY_PRIVATE_KEY_PEM = 'ENCRYPTED COSIGN PRIVATE KEY';
const SCRYPT = { N: 32768, r: 8, p: 1 };

interface Envelope {
  kdf: { name: 'scrypt'; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: 'nacl/secretbox'; nonce: string };
  ciphertext: string;
}

export interface KeyPairFiles {
  privatePem: string;
  publicPem: string;
}

function deriveKey(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(password, 'utf8'), salt, 32, { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function pem(type: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

function unpem(text: string, types: string[]): { type: string; body: Buffer } | undefined {
  const match = text.match(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/);
  if (!match || !types.includes(match[1]!)) return undefined;
  return { type: match[1]!, body: Buffer.from(match[2]!.replace(/\s+/g, ''), 'base64') };
}

/** A fresh P-256 pair; the private key encrypted with `password` (which may be empty, as cosign allows). */
export async function generateKeyPair(password: string): Promise<KeyPairFiles> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privatePem: await encryptPrivateKey(privateKey, password), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export async function encryptPrivateKey(key: KeyObject, password: string): Promise<string> {
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const boxKey = await deriveKey(password, salt, SCRYPT);
  const ciphertext = Buffer.from(secretbox(boxKey, nonce).seal(der));
  const envelope: Envelope = {
    kdf: { name: 'scrypt', params: SCRYPT, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: ciphertext.toString('base64'),
  };
  return pem(PRIVATE_KEY_PEM, Buffer.from(JSON.stringify(envelope)));
}

/** Reads a cosign private key file's text; a wrong password or a damaged file is KILN_KEY_INVALID. */
export async function decryptPrivateKey(text: string, password: string, where: string): Promise<KeyObject> {
  const block = unpem(text, [PRIVATE_KEY_PEM, LEGACY_PRIVATE_KEY_PEM]);
  if (!block) {
    throw new KilnError(ErrorCodes.KEY_INVALID, `${where} is not a cosign private key (no "${PRIVATE_KEY_PEM}" PEM block)`, { hint: 'make one with kiln key generate (or cosign generate-key-pair)' });
  }
  let envelope: Envelope;
  try {
    envelope = JSON.parse(block.body.toString('utf8')) as Envelope;
  } catch (error) {
    throw new KilnError(ErrorCodes.KEY_INVALID, `${where}: the encrypted key is not the JSON envelope cosign writes`, { cause: error });
  }
  if (envelope?.kdf?.name !== 'scrypt' || envelope.cipher?.name !== 'nacl/secretbox') {
    throw new KilnError(ErrorCodes.KEY_INVALID, `${where}: key derivation ${String(envelope?.kdf?.name)} / cipher ${String(envelope?.cipher?.name)} is not scrypt / nacl/secretbox`);
  }
  const { N, r, p } = envelope.kdf.params ?? {};
  if (![N, r, p].every((value) => Number.isInteger(value) && value! > 0) || N! > 1 << 20 || r! > 32 || p! > 16) {
    throw new KilnError(ErrorCodes.KEY_INVALID, `${where}: scrypt parameters out of range`);
  }
  const boxKey = await deriveKey(password, Buffer.from(envelope.kdf.salt, 'base64'), { N: N!, r: r!, p: p! });
  let der: Uint8Array;
  try {
    der = secretbox(boxKey, Buffer.from(envelope.cipher.nonce, 'base64')).open(Buffer.from(envelope.ciphertext, 'base64'));
  } catch (error) {
    throw new KilnError(ErrorCodes.KEY_INVALID, `${where}: wrong password (the key does not decrypt)`, { cause: error, hint: 'set COSIGN_PASSWORD to the password the key was made with' });
  }
  try {
    return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw new KilnError(ErrorCodes.KEY_INVALID, `${where}: the decrypted key is not a PKCS#8 private key`, { cause: error });
  }
}

/** Reads a PEM public key (SPKI), as cosign and openssl write it. */
export function readPublicKey(text: string, where: string): KeyObject {
  try {
    const key = createPublicKey({ key: text, format: 'pem' });
    if (key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ed25519') throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
    return key;
  } catch (error) {
    throw new KilnError(ErrorCodes.KEY_INVALID, `${where} is not a PEM public key`, { cause: error, hint: 'pass the .pub file kiln key generate (or cosign generate-key-pair) wrote' });
  }
}

/** The public key of a private key, as PEM. */
export function publicPemOf(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
}
