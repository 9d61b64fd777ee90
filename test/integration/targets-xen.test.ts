import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { loadImage } from '../../src/image/manifest.js';
import { xenTarget } from '../../src/targets/registry.js';
import { xenDefaultConfig } from '../../src/targets/xen/image.js';
import { instanceXlConfig } from '../../src/launch/engines/xl.js';
import { run } from '../../src/util/exec.js';
import { buildC, launchCaptured, tempDir, testContext } from '../helpers.js';

/**
 * The xen target: bake writes a PVH guest (vmlinux, Xen front-end modules), xl.cfg and a
 * ramdisk with the default runtime config. `xl` itself cannot start without a hypervisor
 * ("cannot init xl context"), but its config parser is a library (libxlutil, Debian's
 * libxen-dev): the config is checked with exactly the parser `xl create` uses.
 */
const { ctx } = testContext();
let work: string;
let image: string;

before(async () => {
  work = await tempDir();
  const hello = await buildC(ctx, 'examples/hello/hello.c', work, 'hello');
  image = (await bake(ctx, { appPath: hello, target: xenTarget }, join(work, 'hello.xen'))).dir;
});

test('a xen image carries the PVH vmlinux, the Xen front-ends, xl.cfg and its ramdisk', async () => {
  const loaded = await loadImage(image);
  assert.equal((await readFile(loaded.kernelPath)).subarray(0, 4).toString('latin1'), '\x7fELF');
  const modules = loaded.manifest.modules.map((module) => module.name);
  assert.ok(modules.includes('xen_netfront') && modules.includes('xen_blkfront'), modules.join(','));
  assert.ok(!modules.some((name) => name.startsWith('virtio')), modules.join(','));
  assert.match(loaded.manifest.cmdline, /console=hvc0/);
  assert.deepEqual(loaded.manifest.artifacts?.map((artifact) => artifact.file), ['xl.cfg', 'xen-initrd.cpio']);
  const ramdisk = await readFile(join(image, 'xen-initrd.cpio'));
  const own = await readFile(loaded.initrdPath);
  assert.ok(ramdisk.subarray(0, own.length).equals(own));
  assert.match(ramdisk.subarray(own.length).toString('latin1'), /poweroff/);
  assert.match(ramdisk.subarray(own.length).toString('latin1'), /\/dev\/hvc0/);
});

test("xl's own config parser (libxlutil) reads xl.cfg as kiln meant it", async (t) => {
  const available = await access('/usr/include/libxlutil.h').then(() => true, () => false);
  if (!available) assert.fail('libxen-dev is not installed (libxlutil.h)' + ' — scripts/setup.sh installs it');
  const parser = join(work, 'xl-parse');
  await run('gcc', ['-Wall', '-Werror', '-o', parser, 'test/fixtures/xl-parse.c', '-lxlutil']);
  const loaded = await loadImage(image);
  const { stdout } = await run(parser, [join(image, 'xl.cfg')]);
  assert.equal(
    stdout,
    [
      'name=kiln-hello',
      'type=pvh',
      'kernel=kernel',
      'ramdisk=xen-initrd.cpio',
      `cmdline=${loaded.manifest.cmdline}`,
      'on_poweroff=destroy',
      'on_reboot=destroy',
      'on_crash=destroy',
      `memory=${loaded.manifest.memory.defaultMiB}`,
      'vcpus=1',
      'vif[0]=mac=00:16:3e:00:00:00,bridge=xenbr0',
      'vif.count=1',
      'disk.count=0',
      '',
    ].join('\n'),
  );
  // The same parser rejects a broken file, so the check above is not vacuous.
  await assert.rejects(run(parser, ['test/fixtures/xl-parse.c']));
});

test('kiln launch refuses a xen image without a dom0, saying so; on a dom0 it would run xl create -c', async () => {
  const dom0 = await readFile('/proc/xen/capabilities', 'utf8').then((text) => text.includes('control_d'), () => false);
  if (dom0) assert.fail('this test expects a host without Xen; on a dom0 run the image with kiln launch by hand');
  await assert.rejects(launchCaptured(ctx, { imageDir: image, network: 'none' }), (error: Error & { code?: string; details?: string[] }) => {
    return error.code === 'KILN_PLATFORM_UNAVAILABLE' && /no Xen dom0/.test(error.message) && error.details!.some((reason) => /\/proc\/xen\/capabilities/.test(reason));
  });
});

test("the per-instance xl.cfg kiln launch gives `xl create -c` on a dom0 parses with xl's parser", async () => {
  const parser = join(work, 'xl-parse');
  await access(parser).catch(() => run('gcc', ['-Wall', '-Werror', '-o', parser, 'test/fixtures/xl-parse.c', '-lxlutil']));
  const loaded = await loadImage(image);
  const { name, text } = instanceXlConfig({ image: loaded, config: xenDefaultConfig(), ramdiskPath: '/run/kiln-run-1/initrd.cpio', memoryMiB: 96, cpus: 2 }, 4242);
  assert.equal(name, 'kiln-hello-4242');
  const cfg = join(work, 'instance.cfg');
  await writeFile(cfg, text);
  const parsed = (await run(parser, [cfg])).stdout;
  assert.match(parsed, new RegExp(`^kernel=${loaded.kernelPath}$`, 'm'));
  assert.match(parsed, /^ramdisk=\/run\/kiln-run-1\/initrd.cpio$/m);
  assert.match(parsed, /^memory=96$/m);
  assert.match(parsed, /^vcpus=2$/m);
  assert.match(parsed, /^vif\[0\]=mac=00:16:3e:10:92:00,bridge=xenbr0$/m);
});
