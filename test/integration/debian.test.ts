import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { findFreePort } from '../../src/launch/ports.js';
import { isKilnError, ErrorCodes } from '../../src/errors.js';
import { realiseDebian, resolveDebianClosure, debianRecipeBakeRequest } from '../../src/debian/index.js';
import { loadRecipe } from '../../src/packages/recipe.js';
import { run } from '../../src/util/exec.js';
import { fetchFromGuest, launchCaptured, SHARED_CACHE, tempDir, testContext } from '../helpers.js';

/**
 * Unmodified Debian binary packages as images, for real: the closure is resolved from the
 * host's apt lists, the .debs downloaded with apt-get (hash-checked), unpacked, baked and
 * booted under TCG; redis answers redis-cli and nginx answers curl through forwarded ports,
 * and `kiln run debian:lua5.4` runs a script. Needs apt lists (apt-get update), redis-tools
 * and curl (scripts/setup.sh installs them).
 */
const { ctx } = testContext();
const KILN = new URL('../../src/cli/main.js', import.meta.url).pathname;
const CATALOGUE = new URL('../../../catalogue/', import.meta.url).pathname;
let work: string;

before(async () => {
  work = await tempDir('kiln-debian-');
  await run('redis-cli', ['--version']).catch(() => assert.fail('redis-cli is missing: install the Debian package redis-tools (scripts/setup.sh does)'));
  await run('curl', ['--version']).catch(() => assert.fail('curl is missing: install the Debian package curl (scripts/setup.sh does)'));
  await run('apt-cache', ['show', '--no-all-versions', 'redis-server']).catch(() => assert.fail("apt's lists do not know redis-server: run apt-get update"));
});

async function bakeCatalogue(name: string): Promise<{ dir: string; components: string[]; initrdBytes: number; packages: number }> {
  const loaded = await loadRecipe(join(CATALOGUE, name, 'recipe.toml'));
  const parts = await debianRecipeBakeRequest(ctx, loaded);
  const lock = await resolveDebianClosure(ctx, { package: loaded.recipe.debian!.package });
  const result = await bake(ctx, { ...parts, target: qemuTarget }, join(work, `${name}.img`));
  return { dir: result.dir, components: parts.components.map((c) => c.id), initrdBytes: result.manifest.initrd.size, packages: lock.closure.length };
}

test('catalogue:redis is baked from redis-server and answers redis-cli SET/GET through a forwarded port', async (t) => {
  const image = await bakeCatalogue('redis');
  assert.ok(image.components.includes('debian:redis-server') && image.components.includes('debian:redis-tools') && image.components.includes('debian:libc6'), image.components.join(' '));
  const port = await findFreePort();
  const stop = new AbortController();
  const started = Date.now();
  const running = launchCaptured(ctx, { imageDir: image.dir, ports: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: port, guestPort: 6379 }], stopSignal: stop.signal });
  let ended = false;
  running.then(() => (ended = true), () => (ended = true));
  const cli = (...args: string[]) => run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { check: false });
  let pong = '';
  while (!ended && Date.now() - started < 150_000 && pong !== 'PONG') {
    pong = (await cli('PING')).stdout.trim();
    if (pong !== 'PONG') await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const answered = Date.now() - started;
  const set = (await cli('SET', 'kiln', 'baked from Debian')).stdout.trim();
  const get = (await cli('GET', 'kiln')).stdout.trim();
  stop.abort();
  const result = await running;
  assert.equal(pong, 'PONG', result.output.slice(-2000));
  assert.equal(set, 'OK');
  assert.equal(get, 'baked from Debian');
  assert.match(result.output, /Ready to accept connections/);
  t.diagnostic(`redis: ${image.packages} packages in the closure, ${image.components.length} in the image, initramfs ${(image.initrdBytes / 1048576).toFixed(1)} MB, answered after ${(answered / 1000).toFixed(1)} s`);
});

test('catalogue:nginx serves its page with its own config through a forwarded port', async (t) => {
  const image = await bakeCatalogue('nginx');
  // The recipe's [debian] files (mime.types from nginx-common) and [[data]] (nginx.conf) are in the image.
  assert.ok(image.components.includes('debian:nginx-common'), image.components.join(' '));
  const manifest = JSON.parse(await readFile(join(image.dir, 'image.json'), 'utf8')) as { files: { path: string }[] };
  const paths = new Set(manifest.files.map((f) => f.path));
  for (const path of ['/etc/nginx/mime.types', '/etc/nginx/nginx.conf', '/var/www/html/index.html', '/etc/passwd', '/usr/sbin/nginx']) assert.ok(paths.has(path), `${path} is not in the image`);
  const started = Date.now();
  const { page, result } = await fetchFromGuest(ctx, { imageDir: image.dir });
  assert.match(page, /nginx on kiln/, result.output.slice(-2000));
  assert.match(result.output, /nginx\/1\.\d+/);
  t.diagnostic(`nginx: ${image.packages} packages in the closure, ${image.components.length} in the image, initramfs ${(image.initrdBytes / 1048576).toFixed(1)} MB, page after ${((Date.now() - started) / 1000).toFixed(1)} s (incl. stop)`);
});

test('kiln run debian:lua5.4 -- -e runs a script', async () => {
  const child = spawn(process.execPath, [KILN, 'run', '--accel', 'tcg', '--net', 'none', 'debian:lua5.4', '--', '-e', 'print(6*7)'], {
    env: { ...process.env, KILN_CACHE_DIR: SHARED_CACHE, KILN_STATE_DIR: join(work, 'state') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr.slice(-2000));
  assert.match(stdout, /^42\r?$/m);
});

test('an unknown Debian package name is refused with close names suggested', async () => {
  await assert.rejects(resolveDebianClosure(ctx, { package: 'redis-serverr' }), (error: unknown) => {
    assert.ok(isKilnError(error, ErrorCodes.DEBIAN_PACKAGE_UNKNOWN));
    assert.match(error.hint ?? '', /redis-server/);
    return true;
  });
});

test('a .deb whose bytes differ from the hash in the lock is refused and not kept', async () => {
  const lock = await resolveDebianClosure(ctx, { package: 'lua5.4' });
  const tampered = { ...lock, closure: lock.closure.map((e) => (e.package === 'lua5.4' ? { ...e, sha256: '0'.repeat(64) } : e)) };
  const { ctx: fresh } = testContext(join(work, 'fresh-cache'));
  await assert.rejects(realiseDebian(fresh, tampered), (error: unknown) => isKilnError(error, ErrorCodes.DEBIAN_HASH_MISMATCH));
});
