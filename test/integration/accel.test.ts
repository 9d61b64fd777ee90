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
import { buildC, SHARED_CACHE, standInQemuEnv, tempDir, testContext } from '../helpers.js';

test('auto: no KVM device means TCG, said plainly, without a probe', async () => {
  const { ctx } = testContext();
  const decision = await resolveAccel({ ...ctx, env: { ...ctx.env, KILN_KVM_DEVICE: '/nonexistent/kvm' } }, 'auto', undefined as never);
  assert.deepEqual(decision, { accel: 'tcg', reason: 'this host has no /dev/kvm, so using TCG', cached: false });
  assert.deepEqual(await resolveAccel(ctx, 'tcg', undefined as never), { accel: 'tcg', reason: 'requested with --accel tcg', cached: false });
});

async function helloImage(work: string) {
  const { ctx: shared } = testContext();
  const hello = await buildC(shared, 'examples/hello/hello.c', work, 'hello');
  return loadImage((await bake(shared, { appPath: hello, target: qemuTarget }, join(work, 'hello.img'))).dir);
}

/** A private cache (no earlier verdict) that still shares the downloaded kernel. */
function probeContext(work: string, env: NodeJS.ProcessEnv) {
  const reporter = new MemoryReporter();
  const ctx = createContext({ paths: { cache: join(work, 'cache'), state: join(work, 'state') }, reporter, env: { ...env, KILN_CACHE_DIR: SHARED_CACHE } });
  return { ctx, reporter };
}

test('auto: a KVM that aborts at vCPU set-up is found out by the probe, with QEMU\'s reason and the signal', async () => {
  const work = await tempDir();
  const image = await helloImage(work);
  const { ctx, reporter } = probeContext(work, await standInQemuEnv('broken-kvm'));
  const first = await resolveAccel(ctx, 'auto', image);
  assert.ok(reporter.events.some((e) => e.type === 'step' && e.step === 'accel'), 'a probe ran');
  assert.equal(first.accel, 'tcg');
  assert.equal(first.cached, false);
  assert.match(first.reason, /^KVM is present but not usable: QEMU could not run the guest under KVM: failed to set MSR 0x10a to 0x69; .*kvm_buf_set_msrs.* \(QEMU was killed by SIGABRT\); using TCG$/);
  const second = await resolveAccel(ctx, 'auto', image);
  assert.deepEqual(second, { ...first, cached: true });
  // --accel kvm does not probe: it is refused by the launch itself (test/integration/cli.test.ts).
  assert.deepEqual(await resolveAccel(ctx, 'kvm', image), { accel: 'kvm', reason: 'requested with --accel kvm', cached: false });
});

test("auto on this host's own KVM device: a real probe boot decides, and the verdict is cached", async (t) => {
  const work = await tempDir();
  const image = await helloImage(work);
  // Without /dev/kvm, /dev/null passes the device check but QEMU opens the real /dev/kvm and
  // fails: the "present but unusable" case with the real QEMU.
  const { ctx, reporter } = probeContext(work, { ...process.env, KILN_KVM_DEVICE: existsSync('/dev/kvm') ? '/dev/kvm' : '/dev/null' });
  const first = await resolveAccel(ctx, 'auto', image);
  t.diagnostic(`accelerator ${first.accel}: ${first.reason}`);
  assert.equal(first.cached, false);
  assert.ok(reporter.events.some((e) => e.type === 'step' && e.step === 'accel'), 'a probe ran');
  if (!existsSync('/dev/kvm')) {
    assert.equal(first.accel, 'tcg');
    assert.match(first.reason, /^KVM is present but not usable: QEMU could not run the guest under KVM: Could not access KVM kernel module.*\(QEMU exited with status 1\); using TCG$/);
  } else if (first.accel === 'kvm') {
    assert.match(first.reason, /^a KVM probe boot took \d+\.\d\ds$/);
  } else {
    assert.match(first.reason, /^KVM is present but not usable: .*; using TCG$/);
    assert.doesNotMatch(first.reason, /status null/);
  }
  const second = await resolveAccel(ctx, 'auto', image);
  assert.deepEqual(second, { ...first, cached: true });
});
