import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference, looksLikeReference, isLoopbackRegistry, formatReference } from '../../src/oci/reference.js';
import { parseChallenge } from '../../src/oci/auth.js';
import { createdAnnotation, imageIndex, referrersTag } from '../../src/oci/layout.js';
import { checkKilnManifest, parseDocument } from '../../src/oci/validate.js';
import { KILN_CONFIG, KILN_KERNEL, OCI_MANIFEST } from '../../src/oci/media-types.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

test('references: host, repository, tag and digest; no default registry', () => {
  assert.deepEqual(parseReference('localhost:5000/me/hello:1.0'), { registry: 'localhost:5000', repository: 'me/hello', tag: '1.0' });
  assert.deepEqual(parseReference(`registry.example.org/a/b/c@${DIGEST}`), { registry: 'registry.example.org', repository: 'a/b/c', digest: DIGEST });
  assert.deepEqual(parseReference(`127.0.0.1:5000/x:t@${DIGEST}`), { registry: '127.0.0.1:5000', repository: 'x', tag: 't', digest: DIGEST });
  assert.equal(formatReference(parseReference(`127.0.0.1:5000/x:t@${DIGEST}`)), `127.0.0.1:5000/x:t@${DIGEST}`);
  for (const bad of ['me/hello:1', 'hello', 'localhost:5000/Me/hello', 'localhost:5000/me/hello@sha256:abc', 'localhost:5000/me/hello:bad tag', 'localhost:5000/', 'localhost:5000/a//b']) {
    assert.throws(() => parseReference(bad), { code: 'KILN_OCI_REFERENCE_INVALID' }, bad);
  }
  assert.equal(looksLikeReference('localhost:5000/me/hello:1.0'), true);
  assert.equal(looksLikeReference('./hello'), false);
  assert.equal(looksLikeReference('debian:redis-server'), false);
  assert.equal(looksLikeReference('build/hello'), false);
  assert.equal(isLoopbackRegistry('127.0.0.1:5000'), true);
  assert.equal(isLoopbackRegistry('localhost'), true);
  assert.equal(isLoopbackRegistry('[::1]:5000'), true);
  assert.equal(isLoopbackRegistry('registry.example.org:5000'), false);
});

test('WWW-Authenticate challenges: Basic and Bearer with quoted, comma-holding values', () => {
  assert.deepEqual(parseChallenge('Basic realm="kiln-test"'), { scheme: 'basic', params: { realm: 'kiln-test' } });
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example.org/token",service="registry",scope="repository:me/a:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example.org/token', service: 'registry', scope: 'repository:me/a:pull,push' },
  });
  assert.equal(parseChallenge('Negotiate abc'), undefined);
});

test('layout: created from SOURCE_DATE_EPOCH only; index order does not depend on argument order; referrers tag', () => {
  assert.equal(createdAnnotation(undefined), '1970-01-01T00:00:00Z');
  assert.equal(createdAnnotation('1700000000'), '2023-11-14T22:13:20Z');
  assert.equal(createdAnnotation('not a number'), '1970-01-01T00:00:00Z');
  const a = { manifest: { mediaType: OCI_MANIFEST, digest: DIGEST, size: 10 }, arch: 'x86_64' };
  const b = { manifest: { mediaType: OCI_MANIFEST, digest: `sha256:${'b'.repeat(64)}`, size: 11 }, arch: 'aarch64' };
  assert.equal(imageIndex([a, b], {}).descriptor.digest, imageIndex([b, a], {}).descriptor.digest);
  assert.deepEqual(JSON.parse(imageIndex([a, b], {}).bytes.toString()).manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture), ['amd64', 'arm64']);
  assert.equal(referrersTag(DIGEST), `sha256-${'a'.repeat(64)}`);
});

test('pulled manifests: unknown media types, container configs, hostile file names and sizes are refused', () => {
  const layer = (title: unknown, extra: Record<string, unknown> = {}) => ({ mediaType: KILN_KERNEL, digest: DIGEST, size: 1, annotations: title === undefined ? {} : { 'org.opencontainers.image.title': title }, ...extra });
  const doc = (layers: unknown[], configType = KILN_CONFIG) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: configType, digest: DIGEST, size: 2 }, layers }));
  const check = (bytes: Buffer) => {
    const parsed = parseDocument(bytes, OCI_MANIFEST, 'test');
    assert.equal(parsed.kind, 'manifest');
    if (parsed.kind === 'manifest') checkKilnManifest(parsed.manifest, 'test');
  };
  check(doc([layer('kernel')]));
  assert.throws(() => parseDocument(Buffer.from('{"schemaVersion":2,"mediaType":"application/x-other"}'), '', 't'), { code: 'KILN_OCI_MANIFEST_INVALID' });
  assert.throws(() => parseDocument(Buffer.from('not json'), OCI_MANIFEST, 't'), { code: 'KILN_OCI_MANIFEST_INVALID' });
  assert.throws(() => check(doc([layer('kernel')], 'application/vnd.oci.image.config.v1+json')), { code: 'KILN_OCI_NOT_KILN_IMAGE', message: /container image, not a kiln image/ });
  for (const title of ['../kernel', '/etc/passwd', 'a/b', '..', 'image.json', '', undefined]) {
    assert.throws(() => check(doc([layer(title)])), { code: 'KILN_OCI_MANIFEST_INVALID' }, String(title));
  }
  assert.throws(() => check(doc([layer('kernel'), layer('kernel')])), { code: 'KILN_OCI_MANIFEST_INVALID' });
  assert.throws(() => check(doc([layer('kernel', { size: 2 ** 40 })])), { code: 'KILN_OCI_MANIFEST_INVALID' });
  assert.throws(() => check(doc([layer('kernel', { size: -1 })])), { code: 'KILN_OCI_MANIFEST_INVALID' });
  assert.throws(() => check(doc([layer('kernel', { mediaType: 'application/x-evil' })])), { code: 'KILN_OCI_MANIFEST_INVALID' });
  assert.throws(() => check(doc([layer('kernel', { digest: 'sha256:zz' })])), { code: 'KILN_OCI_MANIFEST_INVALID' });
});
