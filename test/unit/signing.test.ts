import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { buildBundle, decryptPrivateKey, generateKeyPair, parseSimpleSigningPayload, readPublicKey, signBytes, simpleSigningPayload, verifyBundle, verifyBytes } from '../../src/signing/index.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;

test('cosign key pair: the private key decrypts with its password only, and matches the public key', async () => {
  const pair = await generateKeyPair('pw');
  const key = await decryptPrivateKey(pair.privatePem, 'pw', 'kiln.key');
  assert.equal(createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(), pair.publicPem);
  await assert.rejects(decryptPrivateKey(pair.privatePem, 'other', 'kiln.key'), { code: 'KILN_KEY_INVALID', message: /wrong password/ });
  await assert.rejects(decryptPrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', 'pw', 'x'), { code: 'KILN_KEY_INVALID' });
  assert.throws(() => readPublicKey('not a key', 'x.pub'), { code: 'KILN_KEY_INVALID' });
  const empty = await generateKeyPair('');
  await decryptPrivateKey(empty.privatePem, '', 'kiln.key');
});

test('simple-signing payload: cosign field order, claims parsed back, signatures bound to the bytes', () => {
  const payload = simpleSigningPayload('localhost:5000/me/hello', DIGEST);
  assert.equal(payload.toString(), `{"critical":{"identity":{"docker-reference":"localhost:5000/me/hello"},"image":{"docker-manifest-digest":"${DIGEST}"},"type":"cosign container image signature"},"optional":null}`);
  assert.deepEqual(parseSimpleSigningPayload(payload), { dockerReference: 'localhost:5000/me/hello', manifestDigest: DIGEST });
  assert.equal(typeof parseSimpleSigningPayload(Buffer.from('{"critical":{"type":"other"}}')), 'string');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const signature = signBytes(privateKey, payload);
  assert.equal(verifyBytes(publicKey, payload, signature), true);
  assert.equal(verifyBytes(publicKey, Buffer.concat([payload, Buffer.from(' ')]), signature), false);
  assert.equal(verifyBytes(publicKey, payload, Buffer.from('garbage')), false);
});

test('Sigstore bundle v0.3: verifies with its key for its digest, not with another key', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const bundle = await buildBundle(privateKey, 'localhost:5000/me/hello', DIGEST);
  const json = JSON.parse(bundle.toString()) as { mediaType: string; dsseEnvelope: { payloadType: string } };
  assert.equal(json.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  assert.equal(json.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
  assert.deepEqual(verifyBundle(bundle, publicKey), { digests: [DIGEST] });
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
  assert.match(String(verifyBundle(bundle, other)), /does not verify/);
  assert.match(String(verifyBundle(Buffer.from('{}'), publicKey)), /not a Sigstore bundle/);
});
