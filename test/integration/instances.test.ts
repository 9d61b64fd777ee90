import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { bake } from '../../src/bake/index.js';
import { createContext } from '../../src/context.js';
import { MemoryReporter } from '../../src/events.js';
import { instanceLogs } from '../../src/instances/logs.js';
import { createInstance, inspectInstance, listInstances, removeInstance, stopInstance } from '../../src/instances/manage.js';
import { isAlive, processStart } from '../../src/util/proc.js';
import { instanceDir, writeStatus } from '../../src/instances/store.js';
import { findFreePort } from '../../src/launch/ports.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { buildC, SHARED_CACHE, tempDir, testContext } from '../helpers.js';

/**
 * Managed instances for real: detached QEMU under a supervisor, state on disk, stop/kill/rm,
 * restart policy, and what happens when processes die or commands race.
 */
const { ctx: bakeCtx } = testContext();
let ctx: ReturnType<typeof createContext>;
let httpImage: string;
let probeImage: string;

before(async () => {
  const work = await tempDir();
  ctx = createContext({ paths: { cache: SHARED_CACHE, state: join(work, 'state') }, reporter: new MemoryReporter() });
  const http = await buildC(bakeCtx, 'examples/http/server.c', work, 'http');
  httpImage = (await bake(bakeCtx, { appPath: http, target: qemuTarget }, join(work, 'http.img'))).dir;
  const probe = await buildC(bakeCtx, 'test/fixtures/guest-probe.c', work, 'probe');
  probeImage = (await bake(bakeCtx, { appPath: probe, target: qemuTarget }, join(work, 'probe.img'))).dir;
});

after(async () => {
  for (const item of await listInstances(ctx)) await removeInstance(ctx, item.name, { force: true }).catch(() => {});
});

async function get(port: number, timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
      return await response.text();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('a detached instance serves, is listed, logs, stops gracefully and is removed', async () => {
  const port = await findFreePort();
  const info = await createInstance(ctx, { name: 'web', imageDir: httpImage, accel: 'tcg', memoryMiB: 96, ports: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: port, guestPort: 80 }], hostname: 'webby' });
  assert.equal(info.status.state, 'running');
  assert.ok(isAlive(info.status.qemu), 'QEMU runs');
  assert.ok(isAlive(info.status.supervisor), 'its supervisor runs');
  assert.match(await get(port), /served by webby/);

  const listed = await listInstances(ctx);
  assert.deepEqual(listed.map((item) => item.name), ['web']);

  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await instanceLogs(ctx, 'web', out);
  assert.match(text, /Linux version|listening|kiln/i, 'the console log has the boot output');

  await assert.rejects(removeInstance(ctx, 'web'), { code: 'KILN_INSTANCE_RUNNING' });
  await assert.rejects(createInstance(ctx, { name: 'web', imageDir: httpImage, accel: 'tcg' }), { code: 'KILN_INSTANCE_EXISTS' });

  const stopped = await stopInstance(ctx, 'web');
  assert.equal(stopped.forced, false);
  assert.equal(stopped.status.state, 'exited');
  assert.deepEqual(stopped.status.exit, { kind: 'exited', code: 0 }, 'the server got SIGTERM and exited 0');
  assert.ok(!isAlive(info.status.qemu), 'QEMU is gone');
  assert.equal((await stopInstance(ctx, 'web')).stopped, false, 'stopping a stopped instance is not an error');

  await removeInstance(ctx, 'web');
  await assert.rejects(inspectInstance(ctx, 'web'), { code: 'KILN_INSTANCE_NOT_FOUND' });
  await assert.rejects(stopInstance(ctx, 'nope'), { code: 'KILN_INSTANCE_NOT_FOUND' });
});

test('an instance whose supervisor is killed is reported failed, and its QEMU does not linger', async () => {
  const info = await createInstance(ctx, { name: 'orphan', imageDir: probeImage, accel: 'tcg', network: 'none', args: ['sleep', '300'] });
  const qemu = info.status.qemu!;
  process.kill(info.status.supervisor!.pid, 'SIGKILL');
  await until(async () => (isAlive(qemu) ? undefined : true), 10_000);
  const after = await inspectInstance(ctx, 'orphan');
  assert.equal(after.status.state, 'failed');
  assert.match(after.status.error!.message, /supervisor .* ended without recording/);
  await removeInstance(ctx, 'orphan');
});

test('QEMU killed from outside is recorded as a crash by the supervisor', async () => {
  const info = await createInstance(ctx, { name: 'crash', imageDir: probeImage, accel: 'tcg', network: 'none', args: ['sleep', '300'] });
  process.kill(info.status.qemu!.pid, 'SIGKILL');
  const after = await until(async () => {
    const current = await inspectInstance(ctx, 'crash');
    return current.status.state === 'running' ? undefined : current;
  });
  assert.equal(after.status.state, 'failed');
  assert.equal(after.status.exit?.kind, 'crashed');
  // Named by its signal, never "status null".
  assert.match((after.status.exit as { message: string }).message, /^QEMU was killed by SIGKILL/);
  await removeInstance(ctx, 'crash');
});

test('--restart on-failure:2 restarts a failing app twice, then leaves it exited', async () => {
  await createInstance(ctx, { name: 'flaky', imageDir: probeImage, accel: 'tcg', network: 'none', args: ['exit', '3'], restart: { policy: 'on-failure', maxRetries: 2 } });
  const done = await until(async () => {
    const current = await inspectInstance(ctx, 'flaky');
    return current.status.state === 'exited' && !isAlive(current.status.supervisor) ? current : undefined;
  }, 120_000);
  assert.equal(done.status.restarts, 2);
  assert.deepEqual(done.status.exit, { kind: 'exited', code: 3 });
  assert.equal(done.status.exitCode, 3);
  await removeInstance(ctx, 'flaky');
});

test('kill ends an instance at once; a stop timeout escalates to a kill', async () => {
  await createInstance(ctx, { name: 'k', imageDir: probeImage, accel: 'tcg', network: 'none', args: ['sleep', '300'] });
  const killed = await stopInstance(ctx, 'k', { kill: true });
  assert.equal(killed.status.state, 'exited');
  assert.deepEqual(killed.status.exit, { kind: 'stopped', forced: true });
  await removeInstance(ctx, 'k');

  await createInstance(ctx, { name: 'stubborn', imageDir: probeImage, accel: 'tcg', network: 'none', stopTimeoutSeconds: 2, args: ['ignore-term', 'sleep', '300'] });
  await until(async () => ((await readFile(join(instanceDir(ctx, 'stubborn'), 'console.log'), 'utf8').catch(() => '')).includes('ignoring SIGTERM') ? true : undefined));
  const started = Date.now();
  const stopped = await stopInstance(ctx, 'stubborn');
  assert.deepEqual(stopped.status.exit, { kind: 'stopped', forced: true }, 'the app ignored SIGTERM, so QEMU was killed');
  assert.ok(Date.now() - started < 15_000, 'after the 2 s stop timeout, not much later');
  await removeInstance(ctx, 'stubborn');
});

test('two commands asking for one name at once: exactly one wins', async () => {
  const attempts = await Promise.allSettled([0, 1, 2].map(() => createInstance(ctx, { name: 'race', imageDir: probeImage, accel: 'tcg', network: 'none', args: ['sleep', '300'] })));
  assert.equal(attempts.filter((a) => a.status === 'fulfilled').length, 1);
  for (const attempt of attempts) if (attempt.status === 'rejected') assert.equal((attempt.reason as { code: string }).code, 'KILN_INSTANCE_EXISTS');
  await removeInstance(ctx, 'race', { force: true });
  assert.equal((await listInstances(ctx)).length, 0);
});

test('a damaged state file is reported with its path; kiln interrupted while creating is detected', async () => {
  await createInstance(ctx, { name: 'broken', imageDir: probeImage, accel: 'tcg', network: 'none', args: ['exit', '0'] });
  await until(async () => ((await inspectInstance(ctx, 'broken')).status.state === 'exited' ? true : undefined));
  const statusFile = join(instanceDir(ctx, 'broken'), 'status.json');
  await writeFile(statusFile, '{"state": "runn');
  await assert.rejects(inspectInstance(ctx, 'broken'), (error: Error & { code?: string }) => error.code === 'KILN_INSTANCE_STATE_CORRUPT' && error.message.includes(statusFile));
  const listed = await listInstances(ctx);
  assert.ok('error' in listed[0]!, 'ps lists it as broken instead of crashing');
  await assert.rejects(removeInstance(ctx, 'broken'), { code: 'KILN_INSTANCE_STATE_CORRUPT' });
  await removeInstance(ctx, 'broken', { force: true });

  // A creator that died before the supervisor took over: pid 1's start time never matches 7.
  await createInstance(ctx, { name: 'cut', imageDir: probeImage, accel: 'tcg', network: 'none', args: ['exit', '0'] });
  await until(async () => ((await inspectInstance(ctx, 'cut')).status.state === 'exited' ? true : undefined));
  const dir = instanceDir(ctx, 'cut');
  await writeStatus(dir, { state: 'created', creator: { pid: process.pid, start: (processStart(process.pid) ?? 0) + 7 }, restarts: 0, updatedAt: new Date().toISOString() });
  const cut = await inspectInstance(ctx, 'cut');
  assert.equal(cut.status.state, 'failed');
  assert.match(cut.status.error!.message, /interrupted/);
  assert.match(await readFile(join(dir, 'status.json'), 'utf8'), /"failed"/, 'the verdict is written back');
  await removeInstance(ctx, 'cut');

  // Killed between claiming the name (mkdir) and writing spec.json: young, it is "being created";
  // old, it is reported as damaged and rm -f frees the name.
  const claimed = instanceDir(ctx, 'claimed');
  await mkdir(claimed);
  await assert.rejects(inspectInstance(ctx, 'claimed'), { code: 'KILN_INSTANCE_NOT_FOUND' });
  const old = new Date(Date.now() - 60_000);
  await utimes(claimed, old, old);
  await assert.rejects(inspectInstance(ctx, 'claimed'), (error: Error & { code?: string }) => error.code === 'KILN_INSTANCE_STATE_CORRUPT' && error.message.includes(claimed));
  await removeInstance(ctx, 'claimed', { force: true });
  assert.equal(existsSync(claimed), false);
});

test("an instance's directory volume is a copy that keeps the app's writes across restarts", async () => {
  const seed = join(await tempDir(), 'seed');
  await mkdir(seed);
  await writeFile(join(seed, 'hello.txt'), 'from the host\n');
  await createInstance(ctx, {
    name: 'vol',
    imageDir: probeImage,
    accel: 'tcg',
    network: 'none',
    volumes: [{ source: seed, target: '/data' }],
    args: ['read', '/data/hello.txt', 'read', '/data/count', 'write', '/data/count', 'second run', 'exit', '1'],
    restart: { policy: 'on-failure', maxRetries: 1 },
  });
  const done = await until(async () => {
    const current = await inspectInstance(ctx, 'vol');
    return current.status.state === 'exited' && !isAlive(current.status.supervisor) ? current : undefined;
  }, 120_000);
  assert.equal(done.status.restarts, 1);
  const log = (await readFile(join(done.dir, 'console.log'), 'utf8')).replace(/\r\n/g, '\n');
  assert.match(log, /read \/data\/count errno=ENOENT\n[^]*read \/data\/count=second run\n/, 'the second run sees the first run\'s write');
  assert.equal(await readFile(join(seed, 'hello.txt'), 'utf8'), 'from the host\n');
  assert.equal(existsSync(join(seed, 'count')), false, 'the host directory itself is never changed');
  await removeInstance(ctx, 'vol');
});
