import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectGarbage, registerRoot } from '../../src/store/gc.js';
import { dpkgFingerprint, staleDpkgMemos } from '../../src/supply/dpkg-index.js';
import { installToolchain } from '../../src/toolchain/install.js';
import { staleToolchainCaches, TOOLCHAIN_IDLE_DAYS } from '../../src/toolchain/cache-gc.js';
import { publishDirectory, sha256 } from '../../src/util/fs.js';
import { ownedTempPrefix, temporaryOwner } from '../../src/util/temp-owner.js';
import { forgetGcRoots, runKiln, tempDir, testContext } from '../helpers.js';

const DAY = 86_400_000;
const FS_MODULE = fileURLToPath(new URL('../../src/util/fs.js', import.meta.url));
const OWNER_MODULE = fileURLToPath(new URL('../../src/util/temp-owner.js', import.meta.url));

async function age(path: string, ms: number): Promise<void> {
  const when = (Date.now() - ms) / 1000;
  await utimes(path, when, when);
}

/** The pid of a process that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

test('temporary names say who made them', () => {
  assert.deepEqual(temporaryOwner(ownedTempPrefix('.download-', { pid: 42, start: 7 }) + 'Ab12Cd'), { kind: 'owned', owner: { pid: 42, start: 7 } });
  assert.deepEqual(temporaryOwner(ownedTempPrefix(`.${'a'.repeat(64)}.tmp-`, { pid: 9, start: 1 }) + 'xYz123'), { kind: 'owned', owner: { pid: 9, start: 1 } });
  assert.deepEqual(temporaryOwner('.download-1234-1733312345678'), { kind: 'pid', pid: 1234 });
  assert.deepEqual(temporaryOwner(`${'b'.repeat(64)}.tmp-77-3`), { kind: 'pid', pid: 77 });
  assert.deepEqual(temporaryOwner('.hello.img.new-5'), { kind: 'pid', pid: 5 });
  assert.deepEqual(temporaryOwner('.npm-Q8xk2L'), { kind: 'unowned' });
  assert.deepEqual(temporaryOwner('.kernel.tmp-a1B2c3'), { kind: 'unowned' });
  for (const name of ['a'.repeat(64), 'sources', 'x.deb', '.locks', 'kiln.lock', '.download']) assert.equal(temporaryOwner(name), undefined, name);
});

test('kiln gc removes what a kill -9 left in the cache, never a live operation\'s temporaries', async () => {
  const cache = await tempDir('kiln-gc-');
  const { ctx } = testContext(cache);
  // A real kiln operation killed in the middle: publishDirectory filling a cache entry and a
  // kernel download directory, in a child process that then gets SIGKILL.
  const child = spawn(process.execPath, [
    '--input-type=module',
    '-e',
    `import { publishDirectory } from ${JSON.stringify(FS_MODULE)};
     import { ownedTempPrefix } from ${JSON.stringify(OWNER_MODULE)};
     import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
     const cache = ${JSON.stringify(cache)};
     await mkdir(cache + '/kernels', { recursive: true });
     const download = await mkdtemp(cache + '/kernels/' + ownedTempPrefix('.download-'));
     await writeFile(download + '/linux-image.deb', Buffer.alloc(100000));
     void publishDirectory(cache + '/images/' + 'c'.repeat(64), async (tmp) => {
       await writeFile(tmp + '/kernel', Buffer.alloc(50000));
       process.stdout.write('ready\\n');
       await new Promise(() => {});
     });`,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', () => reject(new Error('the child ended before it was ready')));
  });
  const killed = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await killed;

  // This process's own operations in flight: a fill that is not finished yet, a pid-named blob download.
  let finish!: () => void;
  const live = publishDirectory(join(cache, 'images', 'd'.repeat(64)), async (tmp) => {
    await writeFile(join(tmp, 'kernel'), 'live');
    await new Promise<void>((resolve) => (finish = resolve));
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const blobs = join(cache, 'oci', 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  await writeFile(join(blobs, `${'e'.repeat(64)}.tmp-${process.pid}-1`), 'live blob');
  await writeFile(join(blobs, `${'f'.repeat(64)}.tmp-${await deadPid()}-1`), 'dead blob');
  // Made by an older kiln, without an owner in the name: only age tells.
  await mkdir(join(cache, 'sources', '.npm-Ab3dE9'), { recursive: true });
  await writeFile(join(cache, 'sources', '.npm-Ab3dE9', 'sqlite3-6.0.1.tgz'), 'x');
  await age(join(cache, 'sources', '.npm-Ab3dE9', 'sqlite3-6.0.1.tgz'), 3 * DAY);
  await age(join(cache, 'sources', '.npm-Ab3dE9'), 3 * DAY);
  await mkdir(join(cache, 'libc', '.download-Qw8rT1'), { recursive: true });
  // Inside a complete entry gc does not look (entries are never half-written).
  await mkdir(join(cache, 'kernels', 'a'.repeat(64), '.inner.tmp-Zz9Yy8'), { recursive: true });
  await age(join(cache, 'kernels', 'a'.repeat(64), '.inner.tmp-Zz9Yy8'), 3 * DAY);

  const leftovers = (await readdir(join(cache, 'kernels'))).filter((n) => n.startsWith('.download-')).map((n) => join(cache, 'kernels', n));
  const halfEntry = (await readdir(join(cache, 'images'))).filter((n) => n.startsWith(`.${'c'.repeat(64)}.tmp-p`)).map((n) => join(cache, 'images', n));
  assert.equal(leftovers.length, 1);
  assert.equal(halfEntry.length, 1);
  const deadBlob = join(blobs, (await readdir(blobs)).find((n) => n.startsWith('f'))!);
  const expected = [...leftovers, ...halfEntry, deadBlob, join(cache, 'sources', '.npm-Ab3dE9')].sort();

  const dry = await collectGarbage(ctx, { dryRun: true });
  assert.deepEqual(dry.removed.map((item) => item.path).sort(), expected);
  assert.ok(existsSync(leftovers[0]!), 'a dry run removes nothing');
  assert.match(dry.removed.find((item) => item.path === leftovers[0])!.why, /^left by process \d+, which is gone/);
  assert.match(dry.removed.find((item) => item.path.includes('.npm-'))!.why, /untouched for a day/);
  assert.ok(dry.freedBytes >= 150_000, `sizes are counted: ${dry.freedBytes}`);
  assert.equal(dry.freedBytes, dry.removed.reduce((sum, item) => sum + item.bytes, 0));

  const report = await collectGarbage(ctx);
  assert.deepEqual(report.removed.map((item) => item.path).sort(), expected);
  for (const path of expected) assert.ok(!existsSync(path), `${path} is gone`);
  // The live fill was not disturbed: it completes and publishes its entry.
  finish();
  assert.equal(await live, 'created');
  assert.equal(await readFile(join(cache, 'images', 'd'.repeat(64), 'kernel'), 'utf8'), 'live');
  assert.ok(existsSync(join(blobs, `${'e'.repeat(64)}.tmp-${process.pid}-1`)));
  assert.ok(existsSync(join(cache, 'libc', '.download-Qw8rT1')), 'a fresh ownerless temporary stays');
  assert.ok(existsSync(join(cache, 'kernels', 'a'.repeat(64), '.inner.tmp-Zz9Yy8')));
});

test('kiln gc prunes .debs no live kiln.lock pins, stale dpkg owner indexes and toolchain installs unused for a month', async () => {
  const cache = await tempDir('kiln-gc-');
  const { ctx } = testContext(cache);
  const now = Date.now() + 2 * 3600_000; // "two hours later": nothing is fresh any more
  const debs = join(cache, 'debian', 'debs');
  await mkdir(debs, { recursive: true });
  const [pinned, unpinned] = [sha256('pinned'), sha256('unpinned')];
  for (const hash of [pinned, unpinned]) await writeFile(join(debs, `${hash}.deb`), Buffer.alloc(4096));
  const project = join(cache, 'project');
  await mkdir(project);
  await writeFile(join(project, 'kiln.lock'), '{}');
  await registerRoot(ctx, project, []);
  const lockSources = async () => [pinned];

  // The dpkg owner index: the memo of the host's dpkg database as it is now, and an old one.
  const memos = join(cache, 'dpkg-owners');
  await mkdir(memos, { recursive: true });
  const current = `${(await dpkgFingerprint()).fingerprint}.tsv`;
  await writeFile(join(memos, current), 'current');
  await writeFile(join(memos, `${sha256('before apt-get upgrade')}.tsv`), 'old');

  // Toolchain installs: one used recently, one not for 40 days, with the libc downloads they name.
  const install = async (key: string, libc: string, idleMs: number) => {
    const manifest = join(cache, 'toolchain', key, 'lib', 'kiln-toolchain', 'toolchain.json');
    await mkdir(join(manifest, '..'), { recursive: true });
    await writeFile(manifest, JSON.stringify({ tuples: [{ libc: `musl-dev:arm64 1.2.3-1 (sha256 ${libc})` }] }));
    await age(manifest, idleMs);
    await mkdir(join(cache, 'libc', libc), { recursive: true });
    await age(join(cache, 'libc', libc), 40 * DAY);
  };
  await install('0123456789abcdef', sha256('libc-used'), DAY);
  await install('fedcba9876543210', sha256('libc-old'), (TOOLCHAIN_IDLE_DAYS + 10) * DAY);

  const pruners = [(c: typeof ctx) => staleDpkgMemos(c.paths.cache), staleToolchainCaches];
  const dry = await collectGarbage(ctx, { dryRun: true, lockSources, pruners, now });
  const expected = [
    join(debs, `${unpinned}.deb`),
    join(memos, `${sha256('before apt-get upgrade')}.tsv`),
    join(cache, 'toolchain', 'fedcba9876543210'),
    join(cache, 'libc', sha256('libc-old')),
  ].sort();
  assert.deepEqual(dry.removed.map((item) => item.path).sort(), expected);
  assert.match(dry.removed.map((item) => `${item.path}: ${item.why}`).join('\n'), /\.deb: Debian package that no project's kiln\.lock pins[\s\S]*dpkg database that is no longer the host's[\s\S]*unused for more than 30 days/);
  const report = await collectGarbage(ctx, { lockSources, pruners, now });
  assert.deepEqual(report.removed.map((item) => item.path).sort(), expected);
  assert.deepEqual(await readdir(debs), [`${pinned}.deb`]);
  assert.deepEqual(await readdir(memos), [current]);
  assert.deepEqual(await readdir(join(cache, 'toolchain')), ['0123456789abcdef']);
  assert.deepEqual(await readdir(join(cache, 'libc')), [sha256('libc-used')]);
  // A lock that cannot be read: no .deb is removed (it may pin them).
  await writeFile(join(debs, `${unpinned}.deb`), 'again');
  const unsure = await collectGarbage(ctx, { lockSources: () => Promise.reject(new Error('bad lock')), now });
  assert.deepEqual(unsure.removed, []);
});

test('a toolchain install is marked used each time it is installed, so gc keeps it', async () => {
  const cache = await tempDir('kiln-gc-');
  const { ctx } = testContext(cache);
  const first = await installToolchain(ctx, { tuples: ['x86_64-kiln-linux-musl'] });
  const manifest = join(first.prefix, 'lib', 'kiln-toolchain', 'toolchain.json');
  await age(manifest, (TOOLCHAIN_IDLE_DAYS + 1) * DAY);
  assert.deepEqual((await staleToolchainCaches(ctx, Date.now())).map((item) => item.path), [first.prefix]);
  const again = await installToolchain(ctx, { tuples: ['x86_64-kiln-linux-musl'] });
  assert.equal(again.prefix, first.prefix);
  assert.ok(Date.now() - (await stat(manifest)).mtimeMs < DAY);
  assert.deepEqual(await staleToolchainCaches(ctx, Date.now()), []);
});

test('kiln gc --dry-run lists what it would remove and how much that frees; kiln gc frees it', async () => {
  const cache = await tempDir('kiln-gc-');
  await mkdir(join(cache, 'kernels'), { recursive: true });
  const pid = await deadPid();
  const leftover = join(cache, 'kernels', `${ownedTempPrefix('.download-', { pid, start: 1 })}Xy12Ab`);
  await mkdir(leftover);
  await writeFile(join(leftover, 'part.deb'), Buffer.alloc(3 * 1048576));
  const env = { KILN_CACHE_DIR: cache };
  const dry = await runKiln(['gc', '--dry-run'], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(dry.stdout, `would remove ${leftover} (3.0 MB): left by process ${pid}, which is gone (an interrupted download or unpacking)\n`);
  assert.match(dry.stderr, /^kiln: would free 3\.0 MB in 1 item; 0 store entries in use$/m);
  assert.ok(existsSync(leftover));
  const gc = await runKiln(['gc'], { env });
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(gc.stdout, /^removed .*\.download-p\d+\.1-Xy12Ab \(3\.0 MB\)/);
  assert.match(gc.stderr, /^kiln: freed 3\.0 MB in 1 item/m);
  assert.ok(!existsSync(leftover));
});

test("the tests' own gc roots go with their temporary projects", async () => {
  const cache = await mkdtemp(join(await tempDir('kiln-gc-'), 'cache-'));
  const { ctx } = testContext(cache);
  const mine = await tempDir('kiln-project-');
  const other = join(cache, 'someone-elses-project');
  await registerRoot(ctx, join(mine, 'myapp'), []);
  await registerRoot(ctx, other, []);
  forgetGcRoots(cache, [mine]);
  const left = await readdir(join(cache, 'store', 'roots'));
  assert.equal(left.length, 1);
  assert.equal((JSON.parse(await readFile(join(cache, 'store', 'roots', left[0]!), 'utf8')) as { project: string }).project, other);
});
