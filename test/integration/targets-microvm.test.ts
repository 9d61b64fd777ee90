import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { loadImage } from '../../src/image/manifest.js';
import { microvmTarget } from '../../src/targets/registry.js';
import { buildC, fetchFromGuest, launchCaptured, tempDir, testContext } from '../helpers.js';

/**
 * The microvm target for real: bake → the uncompressed PVH vmlinux, virtio-mmio modules, a
 * Firecracker config; boot under QEMU `-M microvm` with TCG, exit status and a network request.
 */
const { ctx, events } = testContext();
let work: string;
let helloImage: string;

before(async () => {
  work = await tempDir();
  const hello = await buildC(ctx, 'examples/hello/hello.c', work, 'hello');
  helloImage = (await bake(ctx, { appPath: hello, target: microvmTarget }, join(work, 'hello.mvm'))).dir;
});

test('a microvm image carries the PVH vmlinux, virtio-mmio modules and a Firecracker config', async () => {
  const image = await loadImage(helloImage);
  const kernel = await readFile(image.kernelPath);
  assert.equal(kernel.subarray(0, 4).toString('latin1'), '\x7fELF', 'the kernel is the uncompressed ELF vmlinux');
  const modules = image.manifest.modules.map((module) => module.name);
  assert.ok(modules.includes('virtio_mmio') && modules.includes('virtio_net'), modules.join(','));
  assert.ok(!modules.includes('virtio_pci'), 'no PCI transport on microvm');

  const firecracker = JSON.parse(await readFile(join(helloImage, 'firecracker.json'), 'utf8')) as {
    'boot-source': { kernel_image_path: string; initrd_path: string; boot_args: string };
    'machine-config': { vcpu_count: number; mem_size_mib: number };
  };
  assert.equal(firecracker['boot-source'].kernel_image_path, 'kernel');
  assert.equal(firecracker['machine-config'].mem_size_mib, image.manifest.memory.defaultMiB);
  assert.match(firecracker['boot-source'].boot_args, /console=ttyS0/);
  // Firecracker's initrd is the image's plus a default runtime config: status on the console, power off.
  const initrd = await readFile(join(helloImage, firecracker['boot-source'].initrd_path));
  const own = await readFile(image.initrdPath);
  assert.ok(initrd.subarray(0, own.length).equals(own));
  const tail = initrd.subarray(own.length).toString('latin1');
  assert.match(tail, /poweroff/);
  assert.match(tail, /\/dev\/ttyS0/);
  assert.match(tail, /172\.16\.0\.2\/30/);
});

test('it boots under QEMU microvm (TCG), prints, and exit status 3 comes back', async (t) => {
  const result = await launchCaptured(ctx, { imageDir: helloImage, args: ['--exit', '3'], network: 'none' });
  assert.match(result.output, /hello from kiln/);
  assert.deepEqual(result.report, { kind: 'exited', code: 3 });
  assert.equal(result.exitCode, 3);
  const started = [...events.events].reverse().find((event) => event.type === 'vm-started');
  assert.ok(started && started.type === 'vm-started');
  const argv = started.argv.join(' ');
  assert.match(argv, /-machine microvm,acpi=on/);
  assert.match(argv, /tsc_early_khz=\d+/);
  t.diagnostic(`microvm hello under TCG: first output ${result.timings.firstOutputMs} ms, exit ${result.timings.exitMs} ms`);
});

test('the HTTP example answers through -p on microvm, and a stop request ends it cleanly', async () => {
  const server = await buildC(ctx, 'examples/http/server.c', work, 'http-server');
  const image = (await bake(ctx, { appPath: server, target: microvmTarget }, join(work, 'http.mvm'))).dir;
  const { page, result } = await fetchFromGuest(ctx, { imageDir: image, hostname: 'mvm-test' });
  assert.match(page, /Hello from kiln.*served by mvm-test/s);
  assert.deepEqual(result.report, { kind: 'exited', code: 0 });
});
