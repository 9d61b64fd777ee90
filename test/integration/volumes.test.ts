import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { makeExt4FromDirectory } from '../../src/volumes/image.js';
import { run } from '../../src/util/exec.js';
import { buildC, launchCaptured, tempDir, testContext } from '../helpers.js';

/**
 * Volumes for real: a host directory copied into an ext4 image and an existing image file, both
 * attached as virtio-blk and mounted by the shim; read-only is enforced in the guest, and what
 * the app writes to an image file is in that file after the VM has stopped.
 */
const { ctx, events } = testContext();
let work: string;
let image: string;

before(async () => {
  work = await tempDir();
  const probe = await buildC(ctx, 'test/fixtures/guest-probe.c', work, 'probe');
  image = (await bake(ctx, { appPath: probe, target: qemuTarget }, join(work, 'probe.img'))).dir;
});

/** Reads a file out of an ext4 image without mounting it (debugfs ships with e2fsprogs). */
async function readFromImage(imagePath: string, path: string): Promise<string> {
  const result = await run('debugfs', ['-R', `cat ${path}`, imagePath]);
  return result.stdout;
}

test('a directory volume is readable, read-only is enforced, and an image volume keeps writes', async () => {
  const site = join(work, 'site');
  await mkdir(join(site, 'sub'), { recursive: true });
  await writeFile(join(site, 'sub', 'index.html'), 'hello volume\n');
  const seed = join(work, 'seed');
  await mkdir(seed);
  await writeFile(join(seed, 'before.txt'), 'was here\n');
  const dataImage = join(work, 'data.img');
  await makeExt4FromDirectory(seed, dataImage, 64 * 1024 * 1024);

  const result = await launchCaptured(ctx, {
    imageDir: image,
    network: 'none',
    volumes: [
      { source: site, target: '/srv/www', readOnly: true },
      { source: dataImage, target: '/data' },
      { source: site, target: '/scratch' },
    ],
    args: [
      'read', '/srv/www/sub/index.html',
      'write', '/srv/www/new.txt', 'nope',
      'read', '/data/before.txt',
      'write', '/data/after.txt', 'written in the guest',
      'write', '/scratch/tmp.txt', 'scratch',
      'read', '/scratch/tmp.txt',
    ],
  });
  assert.deepEqual(result.report, { kind: 'exited', code: 0 }, result.output);
  assert.match(result.output, /read \/srv\/www\/sub\/index.html=hello volume\n/);
  assert.match(result.output, /write \/srv\/www\/new.txt errno=EROFS\n/);
  assert.match(result.output, /read \/data\/before.txt=was here\n/);
  assert.match(result.output, /write \/data\/after.txt ok\n/);
  assert.match(result.output, /read \/scratch\/tmp.txt=scratch\n/);
  // After the VM is gone, the guest's write is in the image file.
  assert.equal(await readFromImage(dataImage, '/after.txt'), 'written in the guest');
  // A writable copy of a directory in a foreground run is thrown away: kiln says so.
  assert.ok(events.events.some((event) => event.type === 'warning' && event.code === 'KILN_VOLUME_IS_A_COPY'));
});

test('bad volumes are refused before the VM starts', async () => {
  await assert.rejects(launchCaptured(ctx, { imageDir: image, network: 'none', volumes: [{ source: join(work, 'missing'), target: '/x' }] }), {
    code: 'KILN_VOLUME_INVALID',
    message: /does not exist/,
  });
  const notExt4 = join(work, 'junk.img');
  await writeFile(notExt4, Buffer.alloc(4096));
  await assert.rejects(launchCaptured(ctx, { imageDir: image, network: 'none', volumes: [{ source: notExt4, target: '/x' }] }), {
    code: 'KILN_VOLUME_INVALID',
    message: /not an ext2\/3\/4/,
  });
  await assert.rejects(launchCaptured(ctx, { imageDir: image, network: 'none', volumes: [{ source: work, target: 'relative' }] }), {
    code: 'KILN_CONFIG_INVALID',
  });
});
