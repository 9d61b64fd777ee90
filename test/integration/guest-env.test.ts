import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { buildC, launchCaptured, tempDir, testContext } from '../helpers.js';

/** The guest has entropy at once (virtio-rng) and the host's wall clock (QEMU's RTC, in UTC). */
test('virtio-rng is the hardware RNG, getrandom does not block, and the clock matches the host', async () => {
  const { ctx } = testContext();
  const work = await tempDir();
  const probe = await buildC(ctx, 'test/fixtures/guest-probe.c', work, 'probe');
  const image = (await bake(ctx, { appPath: probe, target: qemuTarget }, join(work, 'probe.img'))).dir;
  const before = Math.floor(Date.now() / 1000);
  const result = await launchCaptured(ctx, { imageDir: image, network: 'none', args: ['rng', 'time'] });
  const after = Math.ceil(Date.now() / 1000);
  assert.deepEqual(result.report, { kind: 'exited', code: 0 }, result.output);
  assert.match(result.output, /^rng=virtio_rng\.\d+$/m);
  assert.match(result.output, /^getrandom=32$/m, 'the kernel RNG is initialised (a non-blocking read is served in full)');
  const guestTime = Number(result.output.match(/^time=(\d+)$/m)?.[1]);
  assert.ok(guestTime >= before - 2 && guestTime <= after + 2, `guest clock ${guestTime} is within the launch window ${before}..${after}`);
});
