import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
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

test('gc prunes cached sources no live lock or kept entry pins, and old build logs; --dry-run lists them', async () => {
  const cache = await tempDir('kiln-store-');
  const { ctx } = testContext(cache);
  const sources = join(cache, 'sources');
  await mkdir(sources, { recursive: true });
  const hashes = Object.fromEntries(['locked', 'entry', 'gone', 'orphan'].map((n) => [n, sha256(n)]));
  for (const [name, hash] of Object.entries(hashes)) await writeFile(join(sources, hash), name);
  // gc runs "two hours later": a source cached within the hour before gc would stay (see below).
  const real = Date.now();
  const now = real + 2 * 3600_000;
  // A download in progress (fresh) and one a killed process left two days ago.
  await writeFile(join(sources, '.download-1-fresh'), 'x');
  await writeFile(join(sources, '.download-2-old'), 'x');
  await utimes(join(sources, '.download-2-old'), (real - 2 * 86_400_000) / 1000, (real - 2 * 86_400_000) / 1000);

  // A live root whose lock pins one source, and whose kept entry was built from another.
  const entry = (await ensureEntry(ctx, { key: sha256('kept'), name: 'kept', version: '1.0.0' }, async (tree) => {
    await mkdir(tree);
    return meta({ sources: [hashes.entry!] });
  })).entry;
  const project = join(cache, 'project');
  await mkdir(project);
  await writeFile(join(project, 'kiln.lock'), '{}');
  await registerRoot(ctx, project, [entry.key]);
  // The root of a deleted project pinned the 'gone' source: it goes with the root.
  await registerRoot(ctx, join(cache, 'deleted'), []);
  const pins = new Map([[project, [hashes.locked!]], [join(cache, 'deleted'), [hashes.gone!]]]);
  const lockSources = async (dir: string) => pins.get(dir) ?? [];

  const logs = join(storeDir(ctx), 'logs');
  await mkdir(logs, { recursive: true });
  await writeFile(join(logs, 'recent.log'), 'x');
  await writeFile(join(logs, 'old.log'), 'x');
  await utimes(join(logs, 'old.log'), (real - 15 * 86_400_000) / 1000, (real - 15 * 86_400_000) / 1000);

  const dry = await collectGarbage(ctx, { dryRun: true, lockSources, now });
  const listed = dry.removed.map((r) => r.path).filter((p) => !p.includes('roots'));
  assert.deepEqual(listed.sort(), [join(sources, '.download-2-old'), join(sources, hashes.gone!), join(sources, hashes.orphan!), join(logs, 'old.log')].sort());
  assert.equal((await readdir(sources)).length, 6, 'dry run removed nothing');
  assert.equal((await readdir(logs)).length, 2);

  const report = await collectGarbage(ctx, { lockSources, now });
  assert.deepEqual(report.removed.map((r) => r.path).sort(), dry.removed.map((r) => r.path).sort());
  assert.deepEqual((await readdir(sources)).sort(), ['.download-1-fresh', hashes.entry!, hashes.locked!].sort());
  assert.deepEqual(await readdir(logs), ['recent.log']);
  assert.match(report.removed.map((r) => r.why).join('\n'), /no project's kiln\.lock pins[\s\S]*older than 14 days/);

  // A lock that cannot be read: nothing in the source cache is removed (it may be pinned there).
  await writeFile(join(sources, hashes.orphan!), 'orphan');
  const unsure = await collectGarbage(ctx, { lockSources: async () => Promise.reject(new Error('bad lock')), now });
  assert.deepEqual(unsure.removed, []);
  // Without lockSources the source cache is not touched either.
  assert.deepEqual((await collectGarbage(ctx, { now })).removed, []);
  // A source cached within the last hour stays even unpinned (a first build may be about to use it).
  assert.deepEqual((await collectGarbage(ctx, { lockSources, now: real })).removed, []);
});
