import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, readdir, writeFile, copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { loadImage } from '../../src/image/manifest.js';
import { obtainKernel } from '../../src/components/index.js';
import { sha256File } from '../../src/util/fs.js';
import { buildC, tempDir, testContext } from '../helpers.js';

const { ctx, events } = testContext();
let work: string;
let hello: string;

before(async () => {
  work = await tempDir();
  hello = await buildC(ctx, 'examples/hello/hello.c', work, 'hello');
});

async function hashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = await sha256File(join(dir, name));
  return out;
}

test('two bakes from empty caches give byte-identical images', async () => {
  const kernel = await obtainKernel(ctx, {});
  const images: Record<string, string>[] = [];
  for (const run of ['a', 'b']) {
    const fresh = testContext(join(work, `cache-${run}`)).ctx;
    const result = await bake(fresh, { appPath: hello, target: qemuTarget, kernelPath: kernel.kernelPath, modulesDir: kernel.modulesDir! }, join(work, `repro-${run}.img`));
    assert.equal(result.cached, false);
    images.push(await hashes(result.dir));
  }
  assert.deepEqual(images[0], images[1]);
  assert.deepEqual(Object.keys(images[0]!), ['image.json', 'initramfs.cpio', 'kernel', 'sbom.cdx.json']);
});

test('a re-bake with nothing changed is a cache hit, and the manifest lists every file with its hash', async () => {
  const out = join(work, 'hello.img');
  await bake(ctx, { appPath: hello, target: qemuTarget }, out);
  events.events.length = 0;
  const again = await bake(ctx, { appPath: hello, target: qemuTarget }, out);
  assert.equal(again.cached, true);
  assert.ok(events.events.some((e) => e.type === 'cache' && e.what === 'image' && e.hit));

  const { manifest } = await loadImage(out);
  assert.equal(manifest.target, 'qemu');
  assert.equal(manifest.kernel.source.kind, 'debian');
  assert.match(manifest.kernel.source.kind === 'debian' ? manifest.kernel.source.package : '', /^linux-image-.*-cloud-amd64$/);
  assert.equal(manifest.initrd.sha256, await sha256File(join(out, 'initramfs.cpio')));
  assert.equal(manifest.kernel.sha256, await sha256File(join(out, 'kernel')));
  const app = manifest.files.find((f) => f.role === 'app')!;
  assert.equal(app.path, '/app/hello');
  assert.equal(app.sha256, await sha256File(hello));
  assert.ok(manifest.files.some((f) => f.path === '/kiln/init' && f.role === 'init'));
  assert.ok(manifest.modules.some((m) => m.name === 'virtio_net'));
});

test('GNU cpio reads the initramfs back: every manifest file is there with its bytes', async () => {
  const out = join(work, 'hello.img');
  const { manifest } = await loadImage(out);
  const listing = execFileSync('cpio', ['-it', '--quiet'], { input: await readFile(join(out, 'initramfs.cpio')) }).toString().trim().split('\n');
  for (const file of manifest.files) assert.ok(listing.includes(file.path.slice(1)), `${file.path} missing from the archive`);
  const extracted = join(work, 'extracted');
  await mkdir(extracted);
  execFileSync('cpio', ['-id', '--quiet', '--no-absolute-filenames'], { cwd: extracted, input: await readFile(join(out, 'initramfs.cpio')) });
  for (const file of manifest.files.filter((f) => f.kind === 'file')) {
    assert.equal(await sha256File(join(extracted, file.path)), file.sha256, file.path);
  }
});

test('bad input: missing app, non-ELF, another architecture, a missing library, a foreign output dir', async () => {
  await assert.rejects(bake(ctx, { appPath: join(work, 'nope'), target: qemuTarget }, join(work, 'x.img')), { code: 'KILN_APP_NOT_FOUND' });
  const script = join(work, 'script.sh');
  await writeFile(script, '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await assert.rejects(bake(ctx, { appPath: script, target: qemuTarget }, join(work, 'x.img')), { code: 'KILN_APP_NOT_ELF' });

  // A minimal ELF header for RISC-V: valid enough to be recognised, for a machine kiln has no
  // images for (an AArch64 one would bake an aarch64 image: test/integration/aarch64.test.ts).
  const arm = Buffer.alloc(64);
  arm.write('\x7fELF', 0, 'latin1');
  arm[4] = 2; arm[5] = 1; arm[6] = 1;
  arm.writeUInt16LE(2, 16); arm.writeUInt16LE(243, 18); arm.writeUInt32LE(1, 20); arm.writeUInt16LE(64, 52);
  await writeFile(join(work, 'arm-app'), arm, { mode: 0o755 });
  await assert.rejects(bake(ctx, { appPath: join(work, 'arm-app'), target: qemuTarget }, join(work, 'x.img')), { code: 'KILN_APP_WRONG_ARCH' });

  const libDir = join(work, 'lib');
  await mkdir(libDir);
  await writeFile(join(libDir, 'gone.c'), 'int gone(void) { return 7; }\n');
  await writeFile(join(libDir, 'main.c'), 'int gone(void); int main(void) { return gone(); }\n');
  execFileSync('gcc', ['-shared', '-fPIC', '-o', join(libDir, 'libgone.so'), join(libDir, 'gone.c')]);
  execFileSync('gcc', ['-o', join(libDir, 'needs-gone'), join(libDir, 'main.c'), `-L${libDir}`, '-lgone']);
  await rm(join(libDir, 'libgone.so'));
  await assert.rejects(bake(ctx, { appPath: join(libDir, 'needs-gone'), target: qemuTarget }, join(work, 'x.img')), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'KILN_LIBRARY_NOT_FOUND');
    assert.match(error.message, /libgone\.so/);
    assert.match(error.message, /needs-gone/);
    return true;
  });

  const foreign = join(work, 'foreign');
  await mkdir(foreign);
  await copyFile(hello, join(foreign, 'precious'));
  await assert.rejects(bake(ctx, { appPath: hello, target: qemuTarget }, foreign), { code: 'KILN_OUTPUT_EXISTS' });
  assert.deepEqual(await readdir(foreign), ['precious']);
});

test('no partial image is left behind when a bake fails', async () => {
  const out = join(work, 'failed.img');
  await assert.rejects(bake(ctx, { appPath: join(work, 'nope'), target: qemuTarget }, out));
  assert.deepEqual((await readdir(work)).filter((name) => name.includes('failed.img')), []);
});
