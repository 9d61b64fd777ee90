import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { collectGarbage, ensureEntry, listEntries, registerRoot, storeDir, type StoreMeta } from '../../src/store/index.js';
import { lockPath, workDir } from '../../src/store/store.js';
import { sha256 } from '../../src/util/fs.js';
import { tempDir, testContext } from '../helpers.js';

const CHILD = new URL('../fixtures/store-child.js', import.meta.url).pathname;
const FILES = 12;

function child(cache: string, key: string, marker: string, delayMs = 40): { done: Promise<{ code: number | null; out: string }>; kill: () => void } {
  const proc = spawn(process.execPath, [CHILD, cache, key, String(FILES), String(delayMs), marker], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return { done: new Promise((resolve) => proc.once('close', (code) => resolve({ code, out }))), kill: () => proc.kill('SIGKILL') };
}

const meta = (over: Partial<StoreMeta> = {}): Omit<StoreMeta, 'key' | 'name' | 'version'> => ({
  kind: 'package', license: 'MIT', recipeSha256: 'r'.repeat(64), tuple: 't', sources: [], dependencies: [], treeSha256: 'x', files: 1, buildSeconds: 0, ...over,
});

/** Every entry in the store is complete: meta.json present and all FILES files in its tree. */
async function assertOnlyComplete(cache: string): Promise<number> {
  const { ctx } = testContext(cache);
  const names = (await readdir(storeDir(ctx)).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}-/.test(n));
  for (const name of names) {
    const files = await readdir(join(storeDir(ctx), name, 'tree'));
    assert.equal(files.length, FILES, `${name} is complete`);
    JSON.parse(await readFile(join(storeDir(ctx), name, 'meta.json'), 'utf8'));
  }
  assert.equal((await listEntries(ctx)).length, names.length);
  return names.length;
}

test('two processes building one key at once: one builds, the other waits and reuses it', async () => {
  const cache = await tempDir('kiln-store-');
  const marker = join(cache, 'producers');
  const key = sha256('two at once');
  const [a, b] = [child(cache, key, marker), child(cache, key, marker)];
  const [ra, rb] = await Promise.all([a.done, b.done]);
  assert.equal(ra.code, 0, ra.out);
  assert.equal(rb.code, 0, rb.out);
  const results = [JSON.parse(ra.out), JSON.parse(rb.out)] as { built: boolean; dir: string }[];
  assert.deepEqual(results.map((r) => r.built).sort(), [false, true]);
  assert.equal(results[0]!.dir, results[1]!.dir);
  assert.equal((await readFile(marker, 'utf8')).trim().split('\n').length, 1, 'produced exactly once');
  assert.equal(await assertOnlyComplete(cache), 1);
});

test('kill -9 at any moment of filling an entry leaves no partial entry; the next builder takes over', async () => {
  const cache = await tempDir('kiln-store-');
  const marker = join(cache, 'producers');
  const key = sha256('killed');
  const { ctx } = testContext(cache);
  let killedWhileFilling = 0;
  for (const afterStartMs of [0, 60, 200, 350]) {
    const producers = async () => (await readFile(marker, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
    const before = await producers();
    const run = child(cache, key, marker);
    // Wait until this child is filling the entry, then let it run a moment longer.
    while ((await producers()) === before) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, afterStartMs));
    run.kill();
    const { code } = await run.done;
    if (code === null) killedWhileFilling += 1;
    assert.equal(await assertOnlyComplete(cache), 0, 'a killed filler publishes nothing');
    assert.ok((await readdir(storeDir(ctx))).some((n) => n.includes('.tmp-')), 'the killed filler left its temporary directory');
  }
  assert.equal(killedWhileFilling, 4);
  // The killed builder's lock names a dead pid: the next one takes it over at once.
  const started = Date.now();
  const last = child(cache, key, marker, 1);
  const result = await last.done;
  assert.equal(result.code, 0, result.out);
  assert.ok(Date.now() - started < 10_000);
  assert.equal(await assertOnlyComplete(cache), 1);
  assert.deepEqual((await readdir(storeDir(ctx))).filter((n) => n.includes('.tmp-')), [], 'leftovers of killed builders were removed');
});

test('a failing producer leaves the store as it was', async () => {
  const cache = await tempDir('kiln-store-');
  const { ctx } = testContext(cache);
  await assert.rejects(
    ensureEntry(ctx, { key: sha256('fails'), name: 'x', version: '1.0.0' }, async (tree) => {
      await mkdir(tree);
      await writeFile(join(tree, 'half'), 'x');
      throw new Error('step failed');
    }),
    /step failed/,
  );
  assert.deepEqual((await readdir(storeDir(ctx))).filter((n) => !n.startsWith('.locks')), []);
});

test('gc keeps what live roots use, drops the rest, dead locks and leftovers; --dry-run removes nothing', async () => {
  const cache = await tempDir('kiln-store-');
  const { ctx } = testContext(cache);
  const make = async (name: string, over: Partial<StoreMeta> = {}) =>
    (await ensureEntry(ctx, { key: sha256(name), name, version: '1.0.0' }, async (tree) => {
      await mkdir(tree);
      await writeFile(join(tree, 'f'), name);
      return meta(over);
    })).entry;
  const dep = await make('dep');
  const used = await make('used', { dependencies: [dep.key] });
  const stale = await make('stale', { recipeSha256: 's'.repeat(64) });
  const orphan = await make('orphan');
  const gone = await make('gone');

  const project = join(cache, 'project');
  await mkdir(project);
  await writeFile(join(project, 'kiln.lock'), '{}');
  await registerRoot(ctx, project, [used.key, stale.key]);
  await registerRoot(ctx, join(cache, 'deleted-project'), [gone.key]);
  // What a kill -9'ed builder leaves: a temporary entry, a work tree and a lock naming a dead pid.
  await mkdir(join(storeDir(ctx), `.${sha256('killed')}-killed-1.0.0.tmp-abc`), { recursive: true });
  await mkdir(workDir(ctx, 'killed', '1.0.0'), { recursive: true });
  await writeFile(lockPath(ctx, sha256('killed')), '999999 1\n');

  const lockReferences = async (_dir: string, m: StoreMeta) => m.recipeSha256 === 'r'.repeat(64);
  const dry = await collectGarbage(ctx, { dryRun: true, lockReferences });
  assert.equal((await listEntries(ctx)).length, 5, 'dry run removed nothing');
  const report = await collectGarbage(ctx, { lockReferences });
  assert.deepEqual(
    report.removed.map((r) => r.path),
    dry.removed.map((r) => r.path),
  );
  const left = (await listEntries(ctx)).map((e) => e.meta.name).sort();
  assert.deepEqual(left, ['dep', 'used']);
  assert.ok(report.freedBytes > 0);
  const why = report.removed.map((r) => r.why).join('\n');
  assert.match(why, /kiln\.lock is gone/);
  assert.match(why, /interrupted build/);
  assert.match(why, /builder that is gone/);
  assert.deepEqual((await readdir(storeDir(ctx))).filter((n) => n.startsWith('.') && n !== '.locks' && n !== '.build'), []);
  assert.deepEqual(await readdir(join(storeDir(ctx), '.locks')), []);
  assert.ok(orphan && stale);
});
