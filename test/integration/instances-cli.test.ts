import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { findFreePort } from '../../src/launch/ports.js';
import { buildC, standInQemuEnv, tempDir, testContext, runKiln, type CliRun } from '../helpers.js';

/** `kiln launch -d`, `ps`, `logs`, `inspect`, `stop`, `rm` as a user types them. */
let work: string;
let state: string;
let image: string;

function kiln(args: string[], cwd?: string, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runKiln(args, { ...(cwd ? { cwd } : {}), env: { ...env, KILN_STATE_DIR: state } });
}

before(async () => {
  const { ctx } = testContext();
  work = await tempDir();
  state = join(work, 'state');
  const server = await buildC(ctx, 'examples/http/server.c', work, 'http');
  image = join(work, 'web.img');
  const baked = await kiln(['bake', server, '-o', image]);
  assert.equal(baked.code, 0, baked.stderr);
  await mkdir(join(work, 'site'));
  await writeFile(join(work, 'site', 'index.html'), 'hi\n');
});

after(async () => {
  await kiln(['rm', '-f', 'web']);
});

test('launch -d, ps, logs, inspect, stop, rm', async () => {
  const port = await findFreePort();
  const launched = await kiln(['launch', image, '-d', '--name', 'web', '--accel', 'tcg', '-p', `${port}:80`, '-v', './site:/srv:ro', '-e', 'MODE=prod'], work);
  assert.equal(launched.code, 0, launched.stderr);
  assert.equal(launched.stdout, 'web\n');

  const taken = await kiln(['launch', image, '-d', '--name', 'web', '--accel', 'tcg']);
  assert.equal(taken.code, 125);
  assert.match(taken.stderr, /KILN_INSTANCE_EXISTS/);

  const ps = await kiln(['ps']);
  assert.match(ps.stdout, /^NAME +STATE/m);
  assert.match(ps.stdout, new RegExp(`^web +running +\\d+ +127\\.0\\.0\\.1:${port}->80/tcp`, 'm'));

  const inspected = JSON.parse((await kiln(['inspect', 'web', '--json'])).stdout) as { spec: { request: { volumes: { source: string }[]; env: Record<string, string> } }; status: { state: string } };
  assert.equal(inspected.status.state, 'running');
  assert.equal(inspected.spec.request.volumes[0]!.source, join(work, 'site'), 'relative volume paths are stored absolute');
  assert.deepEqual(inspected.spec.request.env, { MODE: 'prod' });

  // logs -f follows until the instance ends.
  const follow = kiln(['logs', '-f', 'web']);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const response = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
    if (response?.ok) break;
    assert.ok(Date.now() < deadline, 'the server answers');
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const stopped = await kiln(['stop', 'web']);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /web: app exited with status 0/);
  const followed = await follow;
  assert.equal(followed.code, 0);
  assert.match(followed.stdout, /http-server: listening on port 80\r?\n[^]*stopping after/);

  assert.doesNotMatch((await kiln(['ps'])).stdout, /^web/m, 'ps hides stopped instances');
  assert.match((await kiln(['ps', '-a'])).stdout, /^web +exited/m);
  assert.equal((await kiln(['rm', 'web'])).code, 0);
  assert.doesNotMatch((await kiln(['ps', '-a'])).stdout, /^web/m);
});

test('bad input is reported, not crashed on', async () => {
  const unknown = await kiln(['stop', 'nope']);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /KILN_INSTANCE_NOT_FOUND: no instance named "nope"/);
  const missing = await kiln(['launch', image, '-d', '--accel', 'tcg', '-v', '/does/not/exist:/x']);
  assert.match(missing.stderr, /KILN_VOLUME_INVALID: .*\/does\/not\/exist does not exist/);
  const relative = await kiln(['launch', image, '--accel', 'tcg', '-v', `${work}:data`]);
  assert.match(relative.stderr, /KILN_USAGE: invalid volume .*not absolute/);
  const notDetached = await kiln(['launch', image, '--name', 'x']);
  assert.match(notDetached.stderr, /KILN_USAGE: --name and --restart apply to managed instances/);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const busy = await kiln(['launch', image, '-d', '--accel', 'tcg', '-p', `${(server.address() as { port: number }).port}:80`]);
    assert.match(busy.stderr, /KILN_PORT_IN_USE/);
    assert.equal((await kiln(['ps', '-a'])).stdout.split('\n').filter(Boolean).length, 1, 'nothing was created');
  } finally {
    server.close();
  }
  const badRestart = await kiln(['launch', image, '-d', '--restart', 'always']);
  assert.match(badRestart.stderr, /KILN_USAGE: invalid restart policy/);
});

test('an instance on a KVM that aborts at start-up, and one whose QEMU aborts: coded, and the signal named', async () => {
  const kvm = await kiln(['launch', image, '-d', '--name', 'kvm', '--accel', 'kvm', '--net', 'none'], undefined, await standInQemuEnv('broken-kvm'));
  assert.equal(kvm.code, 125, kvm.stderr);
  assert.match(kvm.stderr, /error KILN_ACCEL_UNAVAILABLE: instance kvm could not start: QEMU could not run the guest under KVM: failed to set MSR 0x10a to 0x69; .* \(QEMU was killed by SIGABRT\)/);
  assert.match(kvm.stderr, /hint: use --accel tcg/);
  assert.equal((await kiln(['rm', 'kvm'])).code, 0);

  const aborted = await kiln(['launch', image, '-d', '--name', 'abort', '--accel', 'tcg', '--net', 'none'], undefined, await standInQemuEnv('abort'));
  assert.equal(aborted.code, 0, aborted.stderr);
  let listed = '';
  for (let attempt = 0; attempt < 100 && !/failed/.test(listed); attempt++) {
    listed = (await kiln(['ps', '-a'])).stdout;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.match(listed, /abort\s+failed.*QEMU was killed by SIGABRT/);
  assert.doesNotMatch(listed, /status null/);
  assert.equal((await kiln(['rm', 'abort'])).code, 0);
});
