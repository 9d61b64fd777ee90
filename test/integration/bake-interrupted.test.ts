import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { obtainKernel } from '../../src/components/index.js';
import { loadImage } from '../../src/image/manifest.js';
import { bake } from '../../src/bake/index.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { tempDir, testContext } from '../helpers.js';

const KILN = new URL('../../src/cli/main.js', import.meta.url).pathname;

/**
 * kill -9 at different moments of a bake (a large dynamic app, so archive writing takes a
 * while): afterwards the output is either absent or a complete image, every image in the
 * cache is complete, and the next bake succeeds and removes what the killed one left.
 */
test('a bake killed at any moment leaves no partial image and no partial cache entry', async () => {
  const { ctx } = testContext();
  const kernel = await obtainKernel(ctx, {});
  const work = await tempDir();
  const cache = join(work, 'cache');
  const out = join(work, 'qemu.img');
  const args = [KILN, '-q', 'bake', '/usr/bin/qemu-system-x86_64', '-o', out, '--kernel', kernel.kernelPath, '--modules', kernel.modulesDir!];
  for (const delayMs of [300, 700, 1200, 1800, 2600]) {
    const child = spawn(process.execPath, args, { env: { ...process.env, KILN_CACHE_DIR: cache }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    child.kill('SIGKILL');
    const code = await closed;
    assert.ok(code === null || code === 0, `bake failed on its own: ${stderr}`);

    const outputs = (await readdir(work)).filter((name) => name === 'qemu.img');
    for (const name of outputs) await loadImage(join(work, name)); // complete, or absent
    for (const entry of await readdir(join(cache, 'images')).catch(() => [] as string[])) {
      if (!entry.startsWith('.')) await loadImage(join(cache, 'images', entry));
    }
  }
  const result = await bake(testContext(cache).ctx, { appPath: '/usr/bin/qemu-system-x86_64', target: qemuTarget, kernelPath: kernel.kernelPath, modulesDir: kernel.modulesDir! }, out);
  assert.ok(result.manifest.files.length > 40);
  assert.deepEqual((await readdir(work)).filter((name) => name.startsWith('.qemu.img.')), []);
});
