import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { createContext } from '../../src/context.js';
import { loadImage } from '../../src/image/manifest.js';
import { resolveAccel } from '../../src/launch/accel.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { MemoryReporter } from '../../src/events.js';
import { buildC, SHARED_CACHE, tempDir, testContext } from '../helpers.js';

test('auto: no KVM device means TCG, said plainly, without a probe', async () => {
  const { ctx } = testContext();
  const decision = await resolveAccel({ ...ctx, env: { ...ctx.env, KILN_KVM_DEVICE: '/nonexistent/kvm' } }, 'auto', undefined as never);
  assert.deepEqual(decision, { accel: 'tcg', reason: 'this host has no /dev/kvm, so using TCG', cached: false });
  assert.deepEqual(await resolveAccel(ctx, 'tcg', undefined as never), { accel: 'tcg', reason: 'requested with --accel tcg', cached: false });
});

test('auto: a KVM device that QEMU cannot use is found out by a real probe boot, and the verdict is cached', async () => {
  const work = await tempDir();
  const { ctx: shared } = testContext();
  const hello = await buildC(shared, 'examples/hello/hello.c', work, 'hello');
  const image = await loadImage((await bake(shared, { appPath: hello, target: qemuTarget }, join(work, 'hello.img'))).dir);
  // A private cache (no earlier verdict) that still shares the downloaded kernel.
  const reporter = new MemoryReporter();
  const ctx = createContext({
    paths: { cache: join(work, 'cache'), state: join(work, 'state') },
    reporter,
    // /dev/null passes the device check (it can be opened read-write) but QEMU opens the real
    // /dev/kvm, which on a host without KVM fails: the "present but unusable" case.
    env: { ...process.env, KILN_KVM_DEVICE: existsSync('/dev/kvm') ? '/dev/kvm' : '/dev/null', KILN_CACHE_DIR: SHARED_CACHE },
  });
  const first = await resolveAccel(ctx, 'auto', image);
  assert.equal(first.cached, false);
  assert.ok(reporter.events.some((e) => e.type === 'step' && e.step === 'accel'), 'a probe ran');
  if (!existsSync('/dev/kvm')) {
    assert.equal(first.accel, 'tcg');
    assert.match(first.reason, /^KVM is present but not usable: .*probe.*; using TCG$/);
  }
  const second = await resolveAccel(ctx, 'auto', image);
  assert.equal(second.cached, true);
  assert.equal(second.accel, first.accel);
});
