import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { createContext } from '../../src/context.js';
import { createInstance, listInstances, removeInstance, stopInstance } from '../../src/instances/manage.js';
import { isAlive } from '../../src/util/proc.js';
import { instanceDir, instancesRoot } from '../../src/instances/store.js';
import { assertPortsFree, findFreePort } from '../../src/launch/ports.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { buildC, SHARED_CACHE, tempDir, testContext } from '../helpers.js';

/**
 * Eight detached HTTP instances on distinct ports at once, each answering, then all stopped:
 * afterwards no QEMU or supervisor runs, no run directory or lock file is left, every port is
 * free again. Under TCG on two cores the eight guests share the CPUs, so timeouts are generous.
 */
const COUNT = 8;

async function qemuProcessesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('qemu-system') && cmdline.includes(text)) pids.push(Number(entry));
  }
  return pids;
}

test(`${COUNT} detached HTTP instances serve at once and leave nothing behind`, { timeout: 600_000 }, async (t) => {
  const { ctx: bakeCtx } = testContext();
  const work = await tempDir();
  const stateDir = join(work, 'state');
  const ctx = createContext({ paths: { cache: SHARED_CACHE, state: stateDir } });
  const http = await buildC(bakeCtx, 'examples/http/server.c', work, 'http');
  const image = await bake(bakeCtx, { appPath: http, target: qemuTarget }, join(work, 'http.img'));
  const memoryMiB = image.manifest.memory.minimumMiB;
  const tmpBefore = new Set((await readdir(tmpdir())).filter((name) => name.startsWith('kiln-run-')));

  const ports: number[] = [];
  while (ports.length < COUNT) {
    const port = await findFreePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const started = Date.now();
  const infos = await Promise.all(
    ports.map((port, index) =>
      createInstance(ctx, {
        name: `load${index}`,
        imageDir: image.dir,
        accel: 'tcg',
        memoryMiB,
        hostname: `load${index}`,
        ports: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: port, guestPort: 80 }],
      }),
    ),
  );
  const allUp = Date.now() - started;
  try {
    const answers = await Promise.all(
      ports.map(async (port, index) => {
        const deadline = Date.now() + 300_000;
        for (;;) {
          try {
            const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(10_000) });
            const body = await response.text();
            return { index, body, ms: Date.now() - started };
          } catch (error) {
            if (Date.now() > deadline) throw error;
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
        }
      }),
    );
    for (const answer of answers) assert.match(answer.body, new RegExp(`served by load${answer.index}\\b`));
    const firstAnswers = answers.map((a) => a.ms).sort((a, b) => a - b);
    t.diagnostic(`memory per guest ${memoryMiB} MiB; ${COUNT} QEMUs spawned in ${allUp} ms; answers after ${firstAnswers[0]}..${firstAnswers.at(-1)} ms`);
  } finally {
    const stopStart = Date.now();
    const results = await Promise.all(infos.map((info) => stopInstance(ctx, info.name, { timeoutSeconds: 60 })));
    t.diagnostic(`stopped all in ${Date.now() - stopStart} ms; forced: ${results.filter((r) => r.forced).length}`);
    for (const result of results) assert.equal(result.status.state, 'exited', JSON.stringify(result.status));
  }

  for (const info of infos) {
    assert.ok(!isAlive(info.status.qemu), `QEMU of ${info.name} is gone`);
    assert.ok(!isAlive(info.status.supervisor), `supervisor of ${info.name} is gone`);
    const leftovers = (await readdir(instanceDir(ctx, info.name))).filter((name) => name.startsWith('kiln-run-'));
    assert.deepEqual(leftovers, [], `no run directory is left in ${info.name}`);
  }
  assert.deepEqual(await qemuProcessesMentioning(stateDir), []);
  await assertPortsFree(ports.map((port) => ({ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: port, guestPort: 80 })));
  for (const item of await listInstances(ctx)) await removeInstance(ctx, item.name);
  assert.deepEqual(await readdir(instancesRoot(ctx)).then((names) => names.filter((name) => name !== '.locks')), []);
  assert.deepEqual(await readdir(join(instancesRoot(ctx), '.locks')).catch(() => []), [], 'no lock file is left');
  const tmpAfter = (await readdir(tmpdir())).filter((name) => name.startsWith('kiln-run-') && !tmpBefore.has(name));
  assert.deepEqual(tmpAfter, [], 'no run directory is left in the temp dir');
});
