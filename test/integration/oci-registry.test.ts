import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { push, describeImage } from '../../src/oci/push.js';
import { pull } from '../../src/oci/pull.js';
import { parseReference } from '../../src/oci/reference.js';
import { RegistryClient, sha256Digest } from '../../src/oci/client.js';
import { listReferrers } from '../../src/oci/referrers.js';
import { CYCLONEDX_JSON, OCI_IMAGE_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST } from '../../src/oci/media-types.js';
import { loadImage } from '../../src/image/manifest.js';
import { createContext } from '../../src/context.js';
import { MemoryReporter } from '../../src/events.js';
import { runKiln, spawnKiln, tempDir, testContext } from '../helpers.js';
import { startRegistry, type TestRegistry } from '../registry.js';
import { bakeHello, startFaultProxy } from '../oci-fixtures.js';
import { bake } from '../../src/bake/index.js';
import { getTarget } from '../../src/targets/registry.js';
import { installToolchain } from '../../src/toolchain/index.js';
import { run } from '../../src/util/exec.js';

/**
 * kiln's registry client against Debian's docker-registry (distribution 2.8.2) on loopback:
 * push/pull/run, reproducible digests, chunked uploads, mounts, skipped blobs, the store, and
 * skopeo as the independent client. Bad input: down and failing registries, corrupted blobs,
 * container images, kill -9 during a pull.
 */
const { ctx } = testContext();
let registry: TestRegistry;
let helloDir: string;

/** A context with its own empty cache (the pull store lives in the cache). */
async function freshContext(env: NodeJS.ProcessEnv = process.env) {
  const cache = await tempDir('kiln-oci-cache-');
  const events = new MemoryReporter();
  return { ctx: createContext({ paths: { cache, state: join(cache, 'state') }, reporter: events, env }), events, cache };
}

function sha256Of(path: string): Promise<string> {
  return readFile(path).then((bytes) => createHash('sha256').update(bytes).digest('hex'));
}

before(async () => {
  registry = await startRegistry();
  helloDir = await bakeHello(ctx);
});
after(async () => {
  await registry?.stop();
});

test('push prints one digest for one image, every time (reproducible manifest), and skopeo sees the same digest', async () => {
  const first = await runKiln(['push', helloDir, `${registry.host}/me/hello:1.0`]);
  assert.equal(first.code, 0, first.stderr);
  const digest = first.stdout.trim();
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  const again = await push(ctx, { images: [helloDir], reference: parseReference(`${registry.host}/me/hello:again`) });
  assert.equal(again.digest, digest, 'same image, same manifest digest');
  assert.ok(again.blobs.every((blob) => blob.outcome === 'exists'), 'a second push uploads nothing');
  // skopeo (Debian's, an independent client) reads the manifest kiln wrote and computes its digest itself.
  const raw = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/me/hello:1.0`]);
  assert.equal(sha256Digest(raw), digest);
  const manifest = JSON.parse(raw.toString()) as { config: { mediaType: string }; layers: Array<{ mediaType: string; annotations: Record<string, string> }>; annotations: Record<string, string> };
  assert.equal(manifest.config.mediaType, 'application/vnd.kiln.image.config.v1+json');
  assert.deepEqual(manifest.layers.map((layer) => layer.annotations['org.opencontainers.image.title']), ['kernel', 'initramfs.cpio', 'sbom.cdx.json']);
  assert.equal(manifest.annotations['org.opencontainers.image.created'], '1970-01-01T00:00:00Z');
  assert.equal(manifest.annotations['org.opencontainers.image.version'], '1.0.0');
  assert.equal(manifest.annotations['org.opencontainers.image.licenses'], 'MIT');
  // SOURCE_DATE_EPOCH sets `created`, and only it: the digest is then a different, equally stable one.
  const dated = createContext({ ...ctx, env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  const a = await describeImage(dated, await loadImage(helloDir));
  const b = await describeImage(dated, await loadImage(helloDir));
  assert.equal(a.built.descriptor.digest, b.built.descriptor.digest);
  assert.notEqual(a.built.descriptor.digest, digest);
  assert.match(a.built.bytes.toString(), /"org.opencontainers.image.created": "2023-11-14T22:13:20Z"/);
});

test('the SBOM is attached as a referrer through the sha256-<hex> tag fallback (docker-registry has no referrers API)', async () => {
  const result = await push(ctx, { images: [helloDir], reference: parseReference(`${registry.host}/me/sbom:1`) });
  assert.equal(result.sbom?.via, 'tag-fallback');
  const client = new RegistryClient(registry.host);
  try {
    const referrers = await listReferrers(client, 'me/sbom', result.digest);
    assert.equal(referrers.length, 1);
    assert.equal(referrers[0]!.artifactType, CYCLONEDX_JSON);
    const artifact = JSON.parse((await client.getManifest('me/sbom', referrers[0]!.digest)).bytes.toString()) as { subject: { digest: string }; artifactType: string };
    assert.equal(artifact.subject.digest, result.digest, 'the registry kept subject byte for byte');
  } finally {
    await client.close();
  }
});

test('pull by tag verifies and stores the image; a pull by digest of a present image uses no network', async () => {
  const pushed = await push(ctx, { images: [helloDir], reference: parseReference(`${registry.host}/me/pull:1`) });
  const { ctx: fresh, cache } = await freshContext();
  const pulled = await pull(fresh, { reference: parseReference(`${registry.host}/me/pull:1`) });
  assert.equal(pulled.manifestDigest, pushed.digest);
  assert.equal(pulled.cached, false);
  for (const file of ['kernel', 'initramfs.cpio', 'image.json', 'sbom.cdx.json']) {
    assert.equal(await sha256Of(join(pulled.dir, file)), await sha256Of(join(helloDir, file)), file);
  }
  // A registry that is not there at all: the pull by digest is answered from the store.
  const offline = parseReference(`127.0.0.1:9/me/pull@${pushed.digest}`);
  const again = await pull(fresh, { reference: offline, client: { attempts: 1 } });
  assert.equal(again.cached, true);
  assert.equal(again.dir, pulled.dir);
  const run = await runKiln(['pull', `127.0.0.1:9/me/pull@${pushed.digest}`], { env: { KILN_CACHE_DIR: cache } });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), pulled.dir);
});

test('chunked upload (1 MiB chunks), then a cross-repository mount, then skipped blobs', async () => {
  const { ctx: fresh } = await freshContext();
  const chunked = await push(fresh, { images: [helloDir], reference: parseReference(`${registry.host}/chunks/a:1`), client: { chunkBytes: 1024 * 1024 } });
  const kernel = chunked.blobs.find((blob) => blob.size > 10 * 1024 * 1024)!;
  assert.ok(kernel.outcome === 'uploaded' || kernel.outcome === 'exists');
  const mounted = await push(fresh, { images: [helloDir], reference: parseReference(`${registry.host}/chunks/b:1`) });
  assert.ok(mounted.blobs.some((blob) => blob.outcome === 'mounted'), JSON.stringify(mounted.blobs));
  assert.equal(mounted.digest, chunked.digest);
  const pulled = await pull(await freshContext().then((f) => f.ctx), { reference: parseReference(`${registry.host}/chunks/b:1`) });
  assert.equal(await sha256Of(join(pulled.dir, 'kernel')), await sha256Of(join(helloDir, 'kernel')));
});

test('a chunked upload that loses a chunk to a reset resumes from the offset the registry reports', async () => {
  // A fresh registry, so every blob is really uploaded; the third PATCH is cut off.
  const own = await startRegistry();
  let patches = 0;
  const proxy = await startFaultProxy(own.port, (_n, method) => (method === 'PATCH' && ++patches === 3 ? 'reset' : 'pass'));
  try {
    const { ctx: fresh } = await freshContext();
    const result = await push(fresh, { images: [helloDir], reference: parseReference(`${proxy.host}/me/resume:1`), client: { chunkBytes: 1024 * 1024, backoffMs: 10 } });
    assert.ok(patches > 3);
    const pulled = await pull((await freshContext()).ctx, { reference: parseReference(`${own.host}/me/resume@${result.digest}`) });
    assert.equal(await sha256Of(join(pulled.dir, 'kernel')), await sha256Of(join(helloDir, 'kernel')));
  } finally {
    await proxy.close();
    await own.stop();
  }
});

test('5xx answers and resets are retried a bounded number of times, then a coded error names the registry', async () => {
  const flaky = await startFaultProxy(registry.port, (n) => (n <= 2 ? '503' : n === 3 ? 'reset' : 'pass'));
  try {
    const result = await push(ctx, { images: [helloDir], reference: parseReference(`${flaky.host}/me/flaky:1`), client: { backoffMs: 10 } });
    assert.match(result.digest, /^sha256:/);
  } finally {
    await flaky.close();
  }
  const failing = await startFaultProxy(registry.port, () => '503');
  try {
    await assert.rejects(push(ctx, { images: [helloDir], reference: parseReference(`${failing.host}/me/flaky:1`), client: { backoffMs: 10, attempts: 3 } }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'KILN_REGISTRY_UNREACHABLE');
      assert.match(error.message, new RegExp(failing.host.replace('.', '\\.')));
      return true;
    });
    assert.equal(failing.requests, 3, 'exactly the bounded number of attempts');
  } finally {
    await failing.close();
  }
  const down = await runKiln(['pull', '127.0.0.1:9/me/none:1']);
  assert.equal(down.code, 125);
  assert.match(down.stderr, /KILN_REGISTRY_UNREACHABLE: registry 127\.0\.0\.1:9 could not be reached/);
});

test('a blob whose bytes do not match its digest is refused and nothing is stored', async () => {
  const own = await startRegistry();
  try {
    const pushed = await push(ctx, { images: [helloDir], reference: parseReference(`${own.host}/me/bad:1`) });
    const initrd = `sha256:${(await loadImage(helloDir)).manifest.initrd.sha256}`;
    const hex = initrd.slice(7);
    const data = join(own.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(data);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(data, bytes);
    const { ctx: fresh, cache } = await freshContext();
    await assert.rejects(pull(fresh, { reference: parseReference(`${own.host}/me/bad@${pushed.digest}`) }), { code: 'KILN_OCI_DIGEST_MISMATCH' });
    const stored = await readdir(join(cache, 'oci/blobs/sha256')).catch(() => [] as string[]);
    assert.ok(!stored.includes(hex), 'the bad blob is not in the store');
    assert.ok(!stored.some((name) => name.includes('.tmp-')), 'no temporary file is left');
    assert.deepEqual(await readdir(join(cache, 'oci/images')).catch(() => [] as string[]), [], 'no image directory');
  } finally {
    await own.stop();
  }
});

test('a container image is refused with a clear error, before any layer is fetched', async () => {
  const client = new RegistryClient(registry.host);
  try {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = Buffer.alloc(1024);
    const configDesc = { mediaType: OCI_IMAGE_CONFIG, digest: sha256Digest(config), size: config.length };
    const layerDesc = { mediaType: OCI_LAYER_TAR, digest: sha256Digest(layer), size: layer.length };
    await client.pushBlob('me/container', configDesc, { bytes: config });
    await client.pushBlob('me/container', layerDesc, { bytes: layer });
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDesc, layers: [layerDesc] }));
    await client.putManifest('me/container', 'latest', manifest, OCI_MANIFEST);
  } finally {
    await client.close();
  }
  const result = await runKiln(['pull', `${registry.host}/me/container:latest`]);
  assert.equal(result.code, 125);
  assert.match(result.stderr, /KILN_OCI_NOT_KILN_IMAGE: .* is a container image, not a kiln image/);
  const missing = await runKiln(['pull', `${registry.host}/me/nothing:here`]);
  assert.match(missing.stderr, /KILN_OCI_NOT_FOUND/);
  const bad = await runKiln(['pull', 'me/hello:1']);
  assert.match(bad.stderr, /KILN_OCI_REFERENCE_INVALID/);
});

test('kill -9 during a pull leaves nothing partial; the next pull completes', async () => {
  const pushed = await push(ctx, { images: [helloDir], reference: parseReference(`${registry.host}/me/kill:1`) });
  const { cache } = await freshContext();
  const child = spawnKiln(['pull', `${registry.host}/me/kill:1`], { env: { KILN_CACHE_DIR: cache } });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  child.kill();
  await child.done;
  const images = await readdir(join(cache, 'oci/images')).catch(() => [] as string[]);
  for (const name of images) {
    if (name.startsWith('.')) continue; // a temporary directory: never a published image
    await loadImage(join(cache, 'oci/images', name));
  }
  const again = await runKiln(['pull', `${registry.host}/me/kill@${pushed.digest}`], { env: { KILN_CACHE_DIR: cache } });
  assert.equal(again.code, 0, again.stderr);
  const image = await loadImage(again.stdout.trim());
  assert.equal(image.manifest.initrd.sha256, (await loadImage(helloDir)).manifest.initrd.sha256);
});

test('skopeo copies a kiln image to an oci: layout and back, and kiln runs the copy', async () => {
  await push(ctx, { images: [helloDir], reference: parseReference(`${registry.host}/me/hello:skopeo`) });
  const layout = join(await tempDir('kiln-oci-layout-'), 'layout');
  execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/me/hello:skopeo`, `oci:${layout}:hello`], { stdio: 'pipe' });
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  assert.equal(index.manifests.length, 1);
  execFileSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:hello`, `docker://${registry.host}/me/copied:1`], { stdio: 'pipe' });
  const { cache } = await freshContext();
  const run = await runKiln(['run', `${registry.host}/me/copied:1`, '--accel', 'tcg', '-e', 'GREETING=copied', '--', 'one'], { env: { KILN_CACHE_DIR: cache } });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /hello from kiln: copied/);
  assert.match(run.stdout, /arg\[1\]=one/);
});

test('two architectures make an image index; pull picks this host\'s or the asked platform', async () => {
  const work = await tempDir('kiln-oci-arm64-');
  const toolchain = await installToolchain(ctx, { tuples: ['aarch64-kiln-linux-musl'] });
  assert.equal(toolchain.tuples.length, 1, `the aarch64 toolchain is missing: ${toolchain.skipped.join('; ')}`);
  const app = join(work, 'hello');
  await run(join(toolchain.binDir, 'aarch64-kiln-linux-musl-gcc'), ['-O2', join(process.cwd(), 'examples/hello/hello.c'), '-o', app]);
  const arm = await bake(ctx, { appPath: app, target: getTarget('qemu') }, join(work, 'hello-arm64.img'));
  const ref = `${registry.host}/me/multi:1`;
  const pushed = await runKiln(['push', helloDir, arm.dir, ref, '--platform', 'linux/amd64,linux/arm64']);
  assert.equal(pushed.code, 0, pushed.stderr);
  const swapped = await push(ctx, { images: [arm.dir, helloDir], reference: parseReference(`${registry.host}/me/multi:2`) });
  assert.equal(swapped.digest, pushed.stdout.trim(), 'the index does not depend on argument order');
  const index = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`], { encoding: 'utf8' })) as { mediaType: string; manifests: Array<{ platform: { architecture: string; os: string } }> };
  assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`), ['linux/amd64', 'linux/arm64']);
  const { ctx: fresh } = await freshContext();
  const host = await pull(fresh, { reference: parseReference(ref) });
  assert.equal(host.image.manifest.arch, 'x86_64');
  assert.equal(host.digest, pushed.stdout.trim());
  const other = await pull(fresh, { reference: parseReference(ref), arch: 'arm64' });
  assert.equal(other.image.manifest.arch, 'aarch64');
  await assert.rejects(pull(fresh, { reference: parseReference(ref), arch: 's390x' }), { code: 'KILN_OCI_PLATFORM_MISSING' });
  const mismatch = await runKiln(['push', helloDir, `${registry.host}/me/multi:3`, '--platform', 'linux/amd64,linux/arm64']);
  assert.match(mismatch.stderr, /KILN_USAGE: --platform linux\/amd64,linux\/arm64 does not match the images given/);
});
