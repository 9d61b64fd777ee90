import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { RegistryClient, sha256Digest } from '../../src/oci/client.js';
import { OCI_MANIFEST } from '../../src/oci/media-types.js';
import { decryptPrivateKey, signatureLayer, signatureManifest, signatureTag, simpleSigningPayload } from '../../src/signing/index.js';
import { buildC, runKiln, tempDir, testContext } from '../helpers.js';
import { startRegistry, type TestRegistry } from '../registry.js';
import { bakeHello } from '../oci-fixtures.js';

/**
 * cosign-format keys and signatures, checked by independent tools: openssl verifies what kiln
 * signs (with kiln.pub, over the payload whose digest skopeo reports), and kiln accepts a
 * signature openssl made with a kiln key over a hand-written payload, refusing a changed
 * payload, another key, an unsigned image and a tag moved to an unsigned image — before
 * anything is pulled or launched.
 */
const { ctx } = testContext();
let registry: TestRegistry;
let helloDir: string;
let work: string;
const PASSWORD = 'correct horse';
const env = () => ({ COSIGN_PASSWORD: PASSWORD });

before(async () => {
  registry = await startRegistry();
  helloDir = await bakeHello(ctx);
  work = await tempDir('kiln-sign-');
  const made = await runKiln(['key', 'generate', '-o', join(work, 'kiln.key')], { env: env() });
  assert.equal(made.code, 0, made.stderr);
});
after(async () => {
  await registry?.stop();
});

const key = () => join(work, 'kiln.key');
const pub = () => join(work, 'kiln.pub');

async function blob(repository: string, digest: string): Promise<Buffer> {
  return Buffer.from(await (await fetch(`http://${registry.host}/v2/${repository}/blobs/${digest}`)).arrayBuffer());
}

/** Pushes a hand-made cosign signature image (payload + base64 signature) under the digest's .sig tag. */
async function pushSignature(repository: string, digest: string, payload: Buffer, signature: Buffer): Promise<void> {
  const client = new RegistryClient(registry.host);
  try {
    const layer = signatureLayer(payload, signature);
    const { manifest, config, configDescriptor } = signatureManifest([layer]);
    await client.pushBlob(repository, layer, { bytes: payload });
    await client.pushBlob(repository, configDescriptor, { bytes: config });
    await client.putManifest(repository, signatureTag(digest), manifest, OCI_MANIFEST);
  } finally {
    await client.close();
  }
}

test('key generate writes an encrypted cosign key and a PEM public key; a wrong password is refused', async () => {
  const text = await readFile(key(), 'utf8');
  assert.match(text, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
  const envelope = JSON.parse(Buffer.from(text.split('\n').slice(1, -2).join(''), 'base64').toString()) as { kdf: { name: string; params: { N: number } }; cipher: { name: string } };
  assert.equal(envelope.kdf.name, 'scrypt');
  assert.equal(envelope.kdf.params.N, 32768);
  assert.equal(envelope.cipher.name, 'nacl/secretbox');
  // openssl reads the public key as an EC P-256 key.
  assert.match(execFileSync('openssl', ['pkey', '-pubin', '-in', pub(), '-noout', '-text'], { encoding: 'utf8' }), /prime256v1|P-256/);
  const again = await runKiln(['key', 'generate', '-o', key()], { env: env() });
  assert.match(again.stderr, /KILN_OUTPUT_EXISTS/, 'a key is never overwritten');
  await runKiln(['push', helloDir, `${registry.host}/me/wrongpw:1`]);
  const wrong = await runKiln(['sign', `${registry.host}/me/wrongpw:1`, '--key', key()], { env: { COSIGN_PASSWORD: 'wrong' } });
  assert.equal(wrong.code, 125);
  assert.match(wrong.stderr, /KILN_KEY_INVALID: .*wrong password/);
});

test("openssl verifies kiln's signature over the payload, and the payload names the digest skopeo reports", async () => {
  const pushed = await runKiln(['push', helloDir, `${registry.host}/me/signed:1`, '--sign-key', key()], { env: env() });
  assert.equal(pushed.code, 0, pushed.stderr);
  const digest = pushed.stdout.trim();
  const raw = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/me/signed:1`]);
  assert.equal(sha256Digest(raw), digest);
  const sig = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/me/signed:${signatureTag(digest)}`], { encoding: 'utf8' })) as { layers: Array<{ digest: string; mediaType: string; annotations: Record<string, string> }> };
  assert.equal(sig.layers.length, 1);
  assert.equal(sig.layers[0]!.mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
  const payload = await blob('me/signed', sig.layers[0]!.digest);
  await writeFile(join(work, 'payload.json'), payload);
  await writeFile(join(work, 'payload.sig'), Buffer.from(sig.layers[0]!.annotations['dev.cosignproject.cosign/signature']!, 'base64'));
  const ok = execFileSync('openssl', ['dgst', '-sha256', '-verify', pub(), '-signature', join(work, 'payload.sig'), join(work, 'payload.json')], { encoding: 'utf8' });
  assert.match(ok, /Verified OK/);
  const claims = JSON.parse(payload.toString()) as { critical: { image: { 'docker-manifest-digest': string }; identity: { 'docker-reference': string }; type: string } };
  assert.equal(claims.critical.image['docker-manifest-digest'], sha256Digest(raw));
  assert.equal(claims.critical.identity['docker-reference'], `${registry.host}/me/signed`);
  assert.equal(claims.critical.type, 'cosign container image signature');
  const verified = await runKiln(['verify', `${registry.host}/me/signed:1`, '--key', pub()]);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stderr, /cosign signature by .*kiln\.pub, Sigstore bundle by .*kiln\.pub/);
  // The Sigstore bundle is a referrer of the image, listed under the sha256-<hex> fallback tag.
  const referrers = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/me/signed:${digest.replace(':', '-')}`], { encoding: 'utf8' })) as { manifests: Array<{ artifactType: string }> };
  assert.deepEqual(referrers.manifests.map((m) => m.artifactType).sort(), ['application/vnd.cyclonedx+json', 'application/vnd.dev.sigstore.bundle.v0.3+json']);
});

test('a signature openssl made with the kiln key is accepted; a changed payload or another key is refused', async () => {
  const pem = join(work, 'plain.pem');
  const privateKey = await decryptPrivateKey(await readFile(key(), 'utf8'), PASSWORD, key());
  await writeFile(pem, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const opensslSign = async (keyFile: string, payload: Buffer) => {
    await writeFile(join(work, 'hand.json'), payload);
    return execFileSync('openssl', ['dgst', '-sha256', '-sign', keyFile, join(work, 'hand.json')]);
  };
  const cases: Array<{ repo: string; make: (digest: string) => Promise<[Buffer, Buffer]>; expect: RegExp | null }> = [
    { repo: 'me/hand-ok', make: async (d) => { const p = simpleSigningPayload(`${registry.host}/me/hand-ok`, d); return [p, await opensslSign(pem, p)]; }, expect: null },
    {
      repo: 'me/hand-changed',
      make: async (d) => {
        const p = simpleSigningPayload(`${registry.host}/me/hand-changed`, d);
        const signature = await opensslSign(pem, p);
        return [Buffer.from(p.toString().replace('"optional":null', '"optional":{"x":"y"}')), signature];
      },
      expect: /KILN_SIGNATURE_INVALID/,
    },
    { repo: 'me/hand-other-digest', make: async () => { const p = simpleSigningPayload(`${registry.host}/me/hand-other-digest`, `sha256:${'0'.repeat(64)}`); return [p, await opensslSign(pem, p)]; }, expect: /KILN_SIGNATURE_INVALID/ },
    {
      repo: 'me/hand-other-key',
      make: async (d) => {
        const other = join(work, 'other.pem');
        execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', other]);
        const p = simpleSigningPayload(`${registry.host}/me/hand-other-key`, d);
        return [p, await opensslSign(other, p)];
      },
      expect: /KILN_SIGNATURE_INVALID: no signature .* verifies with/,
    },
  ];
  for (const { repo, make, expect } of cases) {
    const pushed = await runKiln(['push', '--no-sbom', helloDir, `${registry.host}/${repo}:1`]);
    const digest = pushed.stdout.trim();
    const [payload, signature] = await make(digest);
    await pushSignature(repo, digest, payload, signature);
    const result = await runKiln(['verify', `${registry.host}/${repo}:1`, '--key', pub()]);
    if (expect === null) assert.equal(result.code, 0, `${repo}: ${result.stderr}`);
    else {
      assert.equal(result.code, 125, repo);
      assert.match(result.stderr, expect, repo);
    }
  }
  // Signed in both formats by another kiln key: neither verifies with kiln.pub.
  const other = await runKiln(['key', 'generate', '-o', join(work, 'other.key')], { env: env() });
  assert.equal(other.code, 0);
  await runKiln(['push', helloDir, `${registry.host}/me/other-key:1`, '--sign-key', join(work, 'other.key')], { env: env() });
  const refused = await runKiln(['verify', `${registry.host}/me/other-key:1`, '--key', pub()]);
  assert.equal(refused.code, 125);
  assert.match(refused.stderr, /KILN_SIGNATURE_INVALID/);
  assert.match(refused.stderr, /bundle .*does not verify with this key/);
  const either = await runKiln(['verify', `${registry.host}/me/other-key:1`, '--key', pub(), '--key', join(work, 'other.pub')]);
  assert.equal(either.code, 0, either.stderr);
});

test('pull and run refuse an unsigned image, and a tag moved to an unsigned image, before anything is fetched or launched', async () => {
  await runKiln(['push', helloDir, `${registry.host}/me/unsigned:1`]);
  const cache = await tempDir('kiln-oci-cache-');
  const run = await runKiln(['run', `${registry.host}/me/unsigned:1`, '--verify-key', pub(), '--accel', 'tcg'], { env: { KILN_CACHE_DIR: cache } });
  assert.equal(run.code, 125);
  assert.match(run.stderr, /KILN_SIGNATURE_MISSING: .* is not signed/);
  assert.doesNotMatch(run.stdout, /hello from kiln/);
  assert.deepEqual(await readdir(join(cache, 'oci/images')).catch(() => [] as string[]), [], 'nothing was pulled');
  // Sign the tag's image, then move the tag to another (unsigned) image: the pull verifies the digest the tag names now.
  await runKiln(['push', helloDir, `${registry.host}/me/moving:1`, '--sign-key', key()], { env: env() });
  assert.equal((await runKiln(['pull', `${registry.host}/me/moving:1`, '--verify-key', pub()], { env: { KILN_CACHE_DIR: cache } })).code, 0);
  const other = await bake(ctx, { appPath: await buildC(ctx, join(process.cwd(), 'examples/hello/hello.c'), work, 'hello2'), target: qemuTarget, args: ['moved'] }, join(work, 'moved.img'));
  await runKiln(['push', other.dir, `${registry.host}/me/moving:1`]);
  const moved = await runKiln(['pull', `${registry.host}/me/moving:1`, '--verify-key', pub()], { env: { KILN_CACHE_DIR: cache } });
  assert.equal(moved.code, 125);
  assert.match(moved.stderr, /KILN_SIGNATURE_MISSING/);
});

test('a signing policy: trusted scopes need their keys, others are rejected by default', async () => {
  await runKiln(['push', helloDir, `${registry.host}/team/app:1`, '--sign-key', key()], { env: env() });
  await runKiln(['push', helloDir, `${registry.host}/elsewhere/app:1`]);
  const policy = join(work, 'policy.json');
  await writeFile(policy, JSON.stringify({ default: 'reject', trust: [{ scope: `${registry.host}/team`, keys: ['kiln.pub'] }, { scope: `${registry.host}/public`, accept: 'anything' }] }));
  const cache = await tempDir('kiln-oci-cache-');
  const ok = await runKiln(['pull', `${registry.host}/team/app:1`, '--policy', policy], { env: { KILN_CACHE_DIR: cache } });
  assert.equal(ok.code, 0, ok.stderr);
  const rejected = await runKiln(['pull', `${registry.host}/elsewhere/app:1`, '--policy', policy], { env: { KILN_CACHE_DIR: cache } });
  assert.equal(rejected.code, 125);
  assert.match(rejected.stderr, /KILN_SIGNATURE_MISSING: the signing policy .* trusts no key/);
  await writeFile(policy, '{"trust": [{"scope": "x"}]}');
  const invalid = await runKiln(['pull', `${registry.host}/team/app:1`, '--policy', policy]);
  assert.match(invalid.stderr, /KILN_POLICY_INVALID/);
});
