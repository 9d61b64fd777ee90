import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { buildC, fetchFromGuest, launchCaptured, tempDir, testContext } from '../helpers.js';

/**
 * The core chain, for real: C source → musl static binary → bake (Debian's cloud kernel,
 * our shim, our cpio) → QEMU/TCG boot → the app's output and exit status back on the host.
 */
const { ctx } = testContext();
let work: string;
let helloImage: string;

before(async () => {
  work = await tempDir();
  const hello = await buildC(ctx, 'examples/hello/hello.c', work, 'hello');
  helloImage = (await bake(ctx, { appPath: hello, target: qemuTarget, env: { BAKED: 'yes' } }, join(work, 'hello.img'))).dir;
});

test('hello prints its args and env, and exit status 0 comes back', async () => {
  const result = await launchCaptured(ctx, { imageDir: helloImage, args: ['arg1', 'two words'], env: { GREETING: 'hi' }, network: 'none' });
  assert.match(result.output, /hello from kiln: hi\n/);
  assert.match(result.output, /arg\[1\]=arg1\n/);
  assert.match(result.output, /arg\[2\]=two words\n/);
  assert.deepEqual(result.report, { kind: 'exited', code: 0 });
  assert.equal(result.exitCode, 0);
});

test("the app's exit status 3 comes back as 3", async () => {
  const result = await launchCaptured(ctx, { imageDir: helloImage, args: ['--exit', '3'], network: 'none' });
  assert.deepEqual(result.report, { kind: 'exited', code: 3 });
  assert.equal(result.exitCode, 3);
});

test('an app killed by SIGSEGV is reported with the signal name, not a panic or hang', async () => {
  const result = await launchCaptured(ctx, { imageDir: helloImage, args: ['--crash'], network: 'none' });
  assert.deepEqual(result.report, { kind: 'signaled', signal: 'SIGSEGV', number: 11 });
  assert.equal(result.exitCode, 139);
  assert.doesNotMatch(result.output, /Kernel panic/);
});

test('the image boots with exactly its minimum memory, and below it launch refuses', async () => {
  const { manifest } = await import('../../src/image/manifest.js').then((m) => m.loadImage(helloImage));
  const result = await launchCaptured(ctx, { imageDir: helloImage, memoryMiB: manifest.memory.minimumMiB, network: 'none' });
  assert.deepEqual(result.report, { kind: 'exited', code: 0 });
  await assert.rejects(launchCaptured(ctx, { imageDir: helloImage, memoryMiB: manifest.memory.minimumMiB - 1 }), {
    code: 'KILN_MEMORY_TOO_SMALL',
  });
});

test('--timeout stops a VM whose app does not end, with status 124', async () => {
  const server = await buildC(ctx, 'examples/http/server.c', work, 'http-server');
  const image = (await bake(ctx, { appPath: server, target: qemuTarget }, join(work, 'timeout.img'))).dir;
  const result = await launchCaptured(ctx, { imageDir: image, timeoutSeconds: 4 });
  assert.deepEqual(result.report, { kind: 'timeout', seconds: 4 });
  assert.equal(result.exitCode, 124);
});

test('the HTTP example answers through -p, and a stop request ends it cleanly', async () => {
  const server = await buildC(ctx, 'examples/http/server.c', work, 'http-server');
  const image = (await bake(ctx, { appPath: server, target: qemuTarget }, join(work, 'http.img'))).dir;
  const { page, result } = await fetchFromGuest(ctx, { imageDir: image, hostname: 'web-test' });
  assert.match(page, /Hello from kiln.*served by web-test/s);
  assert.match(result.output, /http-server: stopping after \d+ requests/);
  assert.deepEqual(result.report, { kind: 'exited', code: 0 });
});

test('a dynamically linked Debian binary (coreutils ls) runs unmodified', async () => {
  const image = (await bake(ctx, { appPath: '/usr/bin/ls', target: qemuTarget }, join(work, 'ls.img'))).dir;
  const result = await launchCaptured(ctx, { imageDir: image, args: ['-1', '/kiln'], network: 'none' });
  assert.deepEqual(result.report, { kind: 'exited', code: 0 });
  assert.match(result.output, /^config\.json\nimage\.conf\ninit\nruntime\.conf\n/m);
});

test('a missing app program inside the image is reported as an init error (126)', async () => {
  const result = await launchCaptured(ctx, { imageDir: helloImage, config: { workdir: '/nonexistent' }, network: 'none' });
  assert.equal(result.report.kind, 'init-error');
  assert.equal(result.exitCode, 126);
});
