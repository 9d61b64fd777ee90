/**
 * Really fetches Debian's cloud kernel through the host's apt (about 27 MB, once per machine:
 * the shared cache at $KILN_CACHE_DIR or ~/.cache/kiln-test survives between runs).
 */
import { tempDir } from '../helpers.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveKernelPackage } from '../../src/components/apt.js';
import { obtainKernel } from '../../src/components/kernel.js';
import { loadModuleIndex } from '../../src/components/modules.js';
import { extractVmlinux } from '../../src/components/vmlinux.js';
import { resolveModuleClosure } from '../../src/components/sets.js';
import { ARCHS } from '../../src/arch.js';
import type { KernelComponents } from '../../src/components/types.js';
import { createContext, type Context } from '../../src/context.js';
import { MemoryReporter, type KilnEvent } from '../../src/events.js';
import { isKilnError } from '../../src/errors.js';
import { sha256File } from '../../src/util/fs.js';

const sharedCache = process.env.KILN_CACHE_DIR ?? join(homedir(), '.cache/kiln-test');
const hasApt = await access('/usr/bin/apt-get').then(() => true, () => false);
// kiln's Debian kernels come through apt: on a host without it these tests fail, loudly.
assert.ok(hasApt, 'apt-get is installed (a Debian host)');

function context(cache: string, env: NodeJS.ProcessEnv = process.env): { ctx: Context; events: KilnEvent[] } {
  const reporter = new MemoryReporter();
  return { ctx: createContext({ paths: { cache, state: join(cache, 'state') }, reporter, env }), events: reporter.events };
}

function cacheEvents(events: KilnEvent[], what: string): boolean[] {
  return events.flatMap((event) => (event.type === 'cache' && event.what === what ? [event.hit] : []));
}

/** Runs `fn` and reports how long it took as a test diagnostic (the timings the lead asked for). */
async function timed<T>(t: { diagnostic(message: string): void }, label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    t.diagnostic(`${label}: ${Math.round(performance.now() - start)} ms`);
  }
}

let first: KernelComponents | undefined;

test('obtainKernel downloads the current cloud kernel once, then hits the cache', async (t) => {
  const one = context(sharedCache);
  first = await timed(t, 'obtainKernel (first call)', () => obtainKernel(one.ctx));
  const two = context(sharedCache);
  const second = await timed(t, 'obtainKernel (second call)', () => obtainKernel(two.ctx));

  assert.deepEqual(cacheEvents(two.events, 'kernel'), [true]);
  assert.deepEqual(second, first);
  assert.equal(first.source.kind, 'debian');
  if (first.source.kind !== 'debian') return;

  // The entry is keyed and labelled by the hash apt promised for the .deb.
  const apt = await resolveKernelPackage(one.ctx, ARCHS.x86_64.kernelPackage, ARCHS.x86_64);
  assert.equal(first.source.sha256, apt.sha256);
  assert.equal(first.source.version, apt.version);
  assert.match(first.source.package, /^linux-image-\d.*-cloud-amd64$/);
  assert.equal(first.kernelSha256, await sha256File(first.kernelPath));
  assert.equal(first.format, 'bzImage');
  assert.equal(first.setup?.release, first.release);
  assert.equal(first.initSize, first.setup?.initSize);
  assert.ok((await stat(join(first.modulesDir!, 'kernel'))).isDirectory());
  assert.ok((await stat(join(first.modulesDir!, 'modules.builtin'))).isFile());
  assert.equal(first.config?.CONFIG_EXT4_FS, 'y');
  assert.equal(first.config?.CONFIG_VIRTIO_NET, 'm');

  const report = (name: string) => `${name}=${first!.config?.[name] ?? '(absent)'}`;
  t.diagnostic(`kernel ${first.source.package} ${first.source.version} ${first.release}`);
  t.diagnostic(
    `${['CONFIG_ACPI_BUTTON', 'CONFIG_INPUT_EVDEV', 'CONFIG_SERIAL_8250_CONSOLE', 'CONFIG_HW_RANDOM_VIRTIO', 'CONFIG_FW_CFG_SYSFS', 'CONFIG_EXT4_FS', 'CONFIG_RTC_HCTOSYS', 'CONFIG_IP_PNP', 'CONFIG_9P_FS'].map(report).join(' ')}`,
  );
});

test('the module index is built with the entry and read back from the cache', async (t) => {
  const kernel = first ?? (await obtainKernel(context(sharedCache).ctx));
  const { ctx, events } = context(sharedCache);
  const index = await timed(t, 'loadModuleIndex (cached)', () => loadModuleIndex(ctx, kernel));
  assert.deepEqual(cacheEvents(events, 'module-index'), [true]);
  assert.ok(index.modules.size > 1000, `${index.modules.size} modules`);
  const order = resolveModuleClosure(index, ['virtio-pci', 'virtio-net']).map((m) => m.name);
  assert.equal(order.at(-1) === 'virtio_net' || order.at(-1) === 'virtio_pci', true);
  t.diagnostic(`virtio-pci + virtio-net: ${order.join(' ')}`);
});

test('a local kernel gives the same shape, keyed by the file hash, with its own index cache', async (t) => {
  const kernel = first ?? (await obtainKernel(context(sharedCache).ctx));
  const cache = await tempDir('kiln-local-kernel-');
  t.after(() => rm(cache, { recursive: true, force: true }));
  const { ctx, events } = context(cache);
  // The unpacked entry is laid out like a root filesystem: modules dir found from the root.
  const root = join(kernel.modulesDir!, '../../..');
  const local = await obtainKernel(ctx, { kernelPath: kernel.kernelPath, modulesDir: root });
  assert.deepEqual(local.source, { kind: 'local', path: kernel.kernelPath, sha256: kernel.kernelSha256 });
  assert.equal(local.release, kernel.release);
  assert.equal(local.modulesDir, kernel.modulesDir);
  assert.deepEqual(local.setup, kernel.setup);

  const cold = await timed(t, 'loadModuleIndex (local, cold: reads every .ko)', () => loadModuleIndex(ctx, local));
  const warm = await timed(t, 'loadModuleIndex (local, cached)', () => loadModuleIndex(ctx, local));
  assert.deepEqual(cacheEvents(events, 'module-index'), [false, true]);
  assert.deepEqual(warm.modules, cold.modules);
});

test('the vmlinux inside the bzImage is extracted once and is a usable local kernel', async (t) => {
  const kernel = first ?? (await obtainKernel(context(sharedCache).ctx));
  const { ctx, events } = context(sharedCache);
  const extracted = await timed(t, 'extractVmlinux', () => extractVmlinux(ctx, kernel));
  const again = await extractVmlinux(ctx, kernel);
  assert.deepEqual(again, extracted);
  assert.equal(cacheEvents(events, 'vmlinux').at(-1), true);
  assert.equal(await sha256File(extracted.path), extracted.sha256);
  assert.equal((await stat(extracted.path)).size, kernel.setup?.decompressedSize);

  const local = await obtainKernel(ctx, { kernelPath: extracted.path });
  assert.equal(local.format, 'vmlinux');
  assert.equal(local.release, kernel.release);
  assert.equal(local.setup, undefined);
  assert.equal(local.modulesDir, undefined);
  // Loaded span of the segments: a little under the bzImage's init_size (no decompressor).
  assert.ok(local.initSize > 32 * 1024 * 1024 && local.initSize <= kernel.initSize, `initSize ${local.initSize}`);
  t.diagnostic(`vmlinux ${(await stat(extracted.path)).size} bytes, load span ${local.initSize}, bzImage init_size ${kernel.initSize}`);
});

test('apt lists unavailable: the newest cached kernel is used, with a warning', async (t) => {
  const kernel = first ?? (await obtainKernel(context(sharedCache).ctx));
  const dir = await tempDir('kiln-apt-offline-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  // An apt configuration with an empty lists dir and no binary caches: apt knows no packages,
  // as on a host that never ran apt-get update, and writes nothing anywhere.
  await writeFile(join(dir, 'apt.conf'), `Dir::State::Lists "${dir}/lists/";\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n`);
  const { ctx, events } = context(sharedCache, { ...process.env, APT_CONFIG: join(dir, 'apt.conf') });
  const offline = await obtainKernel(ctx);
  assert.equal(offline.source.kind, 'debian');
  assert.equal(offline.kernelSha256, kernel.kernelSha256);
  assert.ok(events.some((event) => event.type === 'warning' && /newest cached kernel/.test(event.message)));
});

test('a wrong expected hash is rejected and leaves no cache entry', async (t) => {
  const { source } = first ?? (await obtainKernel(context(sharedCache).ctx));
  assert.equal(source.kind, 'debian');
  if (source.kind !== 'debian') return;
  const cache = await tempDir('kiln-kernel-hash-');
  t.after(() => rm(cache, { recursive: true, force: true }));
  const { ctx } = context(cache);
  const wrong = 'f'.repeat(64);
  await assert.rejects(
    timed(t, 'download + reject (wrong hash)', () => obtainKernel(ctx, { pin: { package: source.package, version: source.version, sha256: wrong } })),
    (error) => isKilnError(error, 'KILN_KERNEL_HASH_MISMATCH') && error.details.some((line) => line.includes(source.sha256)),
  );
  assert.deepEqual(await readdir(join(cache, 'kernels')), [], 'no entry, no download directory left behind');
});

test('a version the archive does not have is KILN_KERNEL_DOWNLOAD_FAILED with apt\'s reason', async (t) => {
  const cache = await tempDir('kiln-kernel-missing-');
  t.after(() => rm(cache, { recursive: true, force: true }));
  const { ctx } = context(cache);
  await assert.rejects(
    obtainKernel(ctx, { pin: { package: 'linux-image-6.1.0-56-cloud-amd64', version: '0.0-0', sha256: '0'.repeat(64) } }),
    (error) => isKilnError(error, 'KILN_KERNEL_DOWNLOAD_FAILED') && /apt-get update/.test(error.hint ?? '') && error.details.length > 0,
  );
  assert.deepEqual(await readdir(join(cache, 'kernels')), []);
});

test('an unknown package with nothing cached is KILN_KERNEL_NOT_FOUND', async (t) => {
  const cache = await tempDir('kiln-kernel-unknown-');
  t.after(() => rm(cache, { recursive: true, force: true }));
  await assert.rejects(obtainKernel(context(cache).ctx, { packageName: 'linux-image-no-such-flavour' }), (error) => isKilnError(error, 'KILN_KERNEL_NOT_FOUND'));
});
