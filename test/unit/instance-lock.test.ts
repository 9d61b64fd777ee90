import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withLock } from '../../src/instances/lock.js';
import { isAlive, processStart, refOf } from '../../src/util/proc.js';
import { tempDir } from '../helpers.js';

test('withLock serialises concurrent holders and removes its file', async () => {
  const dir = await tempDir('kiln-lock-');
  const path = join(dir, 'x.lock');
  let inside = 0;
  let maxInside = 0;
  await Promise.all(
    [1, 2, 3, 4].map(() =>
      withLock(path, 'x', async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise((resolve) => setTimeout(resolve, 30));
        inside--;
      }),
    ),
  );
  assert.equal(maxInside, 1);
  assert.equal(existsSync(path), false);
});

test('a lock left by a dead process is broken; a live holder makes the command wait, then fail clearly', async () => {
  const dir = await tempDir('kiln-lock-');
  const path = join(dir, 'x.lock');
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const deadPid = Number(child.stdout.toString());
  await writeFile(path, `${deadPid} 12345\n`);
  assert.equal(await withLock(path, 'x', async () => 'got it'), 'got it');

  const parent = refOf(process.ppid)!;
  await writeFile(path, `${parent.pid} ${parent.start}\n`);
  await assert.rejects(withLock(path, 'instance x', async () => 'no', 300), (error: Error & { code?: string }) => error.code === 'KILN_INSTANCE_BUSY' && error.message.includes(`pid ${parent.pid}`));

  // An empty lock is being written right now, unless it is old.
  await writeFile(path, '');
  await assert.rejects(withLock(path, 'x', async () => 'no', 200), { code: 'KILN_INSTANCE_BUSY' });
  const old = new Date(Date.now() - 60_000);
  await utimes(path, old, old);
  assert.equal(await withLock(path, 'x', async () => 'broken', 2000), 'broken');
});

test('a pid is only "alive" together with its start time', () => {
  const me = { pid: process.pid, start: processStart(process.pid)! };
  assert.ok(isAlive(me));
  assert.ok(!isAlive({ pid: me.pid, start: me.start + 1 }), 'same pid, other start time: a recycled pid');
  assert.ok(!isAlive(undefined));
});
