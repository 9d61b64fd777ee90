import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bakeProject } from '../../src/pkgbuild/bake-project.js';
import { loadImage } from '../../src/image/manifest.js';
import { listEntries, hashTree } from '../../src/store/index.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { run } from '../../src/util/exec.js';
import { fetchFromGuest, launchCaptured, SHARED_CACHE, tempDir, testContext, spawnKiln } from '../helpers.js';

/**
 * The package flow end to end through the CLI: a project that depends on the catalogue's
 * SQLite (built from its autoconf tarball, taken out of the sqlite3 npm package) is built
 * into the store, baked and booted, running SQL; the catalogue's HTTP server answers a
 * request; and `kiln build` killed with SIGKILL at several moments leaves only complete store
 * entries. The shared test cache keeps SQLite's store entry between runs, so only the first
 * run on a machine builds it: the catalogue's recipe at -O2 (a minute or two on 2 cores), and
 * for the quick start a test copy of it at -O0 (test/fixtures/packages/fast-catalogue/).
 */
const FAST_CATALOGUE = fileURLToPath(new URL('../../../test/fixtures/packages/fast-catalogue', import.meta.url));


function kiln(args: string[], cwd: string, cache = SHARED_CACHE, env: NodeJS.ProcessEnv = {}): ReturnType<typeof spawnKiln> {
  return spawnKiln(args, { cwd, env: { ...env, KILN_CACHE_DIR: cache } });
}

async function project(toml: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await tempDir('kiln-project-');
  await writeFile(join(dir, 'kiln.toml'), toml);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

test('a project on catalogue sqlite: kiln build, kiln bake ., boot, run SQL', { timeout: 1_200_000 }, async (t) => {
  const { ctx } = testContext();
  const dir = await project('[package]\nname = "sqldemo"\nversion = "0.1.0"\nlicense = "MIT"\n\n[dependencies]\nsqlite = "^3.52"\n\n[runtime]\napp = "/usr/bin/sqlite3"\n');
  let started = Date.now();
  const build = await kiln(['build'], dir).done;
  assert.equal(build.code, 0, build.stderr);
  t.diagnostic(`kiln build: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.match(build.stdout, /^sqlite 3\.52\.0\tkiln\t.*-sqlite-3\.52\.0$/m);
  started = Date.now();
  const again = await kiln(['build', '--frozen', dir], '/').done;
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /sqlite 3\.52\.0: in the store/);
  t.diagnostic(`kiln build again (store hit): ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // A project that links SQLite's library: its build sysroot holds sqlite's store tree, found by pkg-config.
  const linker = await project(
    [
      '[package]\nname = "linkdemo"\nversion = "0.1.0"\nlicense = "MIT"\n\n[build-dependencies]\nsqlite = "^3.52"\n',
      '[build]\nsteps = [',
      '  ["sh", "-c", "$KILN_TUPLE-gcc -O1 -o q q.c $($KILN_TUPLE-pkg-config --cflags --libs sqlite3)"],',
      '  ["install", "-D", "q", "$KILN_DESTDIR/usr/bin/q"],',
      ']\n',
    ].join('\n'),
    { 'q.c': '#include <sqlite3.h>\n#include <stdio.h>\nint main(void) { printf("linked sqlite %s\\n", sqlite3_libversion()); return 0; }\n' },
  );
  const linked = await kiln(['--json', 'build'], linker).done;
  assert.equal(linked.code, 0, linked.stderr);
  const q = (JSON.parse(linked.stdout) as { packages: { name: string; path: string }[] }).packages.find((p) => p.name === 'linkdemo')!;
  // A static musl program: it runs on the host as well.
  assert.equal((await run(join(q.path, 'tree', 'usr', 'bin', 'q'), [])).stdout, 'linked sqlite 3.52.0\n');

  const baked = await kiln(['bake', '.'], dir).done;
  assert.equal(baked.code, 0, baked.stderr);
  const image = await loadImage(join(dir, '.kiln', 'images', 'qemu'));
  const sqlite = image.manifest.components?.find((c) => c.id === 'kiln:sqlite');
  assert.equal(sqlite?.license, 'blessing');
  assert.equal(sqlite?.version, '3.52.0');
  // The app keeps its install path (not /app/sqlite3), and the component lists it there.
  assert.equal(image.manifest.app.guestPath, '/usr/bin/sqlite3');
  assert.deepEqual(sqlite?.files, [image.manifest.app.guestPath]);

  const sql = "create table t(k text, v int); insert into t values ('a', 40), ('b', 2); select 'total=' || sum(v) || ' v=' || sqlite_version() from t;";
  const result = await launchCaptured(ctx, { imageDir: image.dir, args: [':memory:', sql], network: 'none' });
  assert.equal(result.exitCode, 0, result.output.slice(-2000));
  assert.match(result.output, /total=42 v=3\.52\.0/);
});

test('the catalogue http package, baked from a project, answers HTTP', { timeout: 300_000 }, async () => {
  const { ctx } = testContext();
  const dir = await project('[package]\nname = "web"\nversion = "1.0.0"\nlicense = "Apache-2.0"\n\n[dependencies]\nhttp = "^1"\n');
  // No runtime.app: the image runs the default app of the project's only dependency.
  const image = await bakeProject(ctx, dir, { target: qemuTarget });
  assert.equal(image.manifest.app.guestPath, '/usr/bin/http-server');
  assert.equal(image.manifest.components?.find((c) => c.id === 'kiln:http')?.files[0], image.manifest.app.guestPath);
  const { page, result } = await fetchFromGuest(ctx, { imageDir: image.dir, network: 'user' });
  assert.match(page, /kiln/i, result.output.slice(-1500));
});

test('the quick start: kiln init, add sqlite, lock, build, bake . and boot the generated program', { timeout: 600_000 }, async () => {
  const { ctx } = testContext();
  const work = await tempDir('kiln-init-');
  // Only the flow is under test here, not SQLite's speed: the -O0 copy of the catalogue's recipe.
  for (const args of [['init', 'myapp'], ['add', 'sqlite@^3.52'], ['lock'], ['build'], ['bake', '.', '--target', 'qemu']]) {
    const step = await kiln(args, args[0] === 'init' ? work : join(work, 'myapp'), SHARED_CACHE, { KILN_CATALOGUE_DIR: FAST_CATALOGUE }).done;
    assert.equal(step.code, 0, `kiln ${args.join(' ')}: ${step.stderr}`);
  }
  const image = await loadImage(join(work, 'myapp', '.kiln', 'images', 'qemu'));
  assert.ok(image.manifest.components?.some((c) => c.id === 'kiln:sqlite'));
  const result = await launchCaptured(ctx, { imageDir: image.dir, args: ['world'], network: 'none' });
  assert.equal(result.exitCode, 0, result.output.slice(-1500));
  assert.match(result.output, /hello from myapp, world/);
});

test('kill -9 during kiln build at several moments leaves only complete store entries; a rerun succeeds', { timeout: 300_000 }, async () => {
  const work = await tempDir('kiln-build-kill-');
  const cache = join(work, 'cache');
  // The project's own build: a C program and a few slow steps, so kills land inside the build.
  const dir = await project(
    [
      '[package]\nname = "slow"\nversion = "1.0.0"\nlicense = "MIT"\n',
      '[build]\nsteps = [',
      '  ["$KILN_TUPLE-gcc", "-O0", "-o", "hello", "hello.c"],',
      '  ["sleep", "1.5"],',
      '  ["install", "-D", "-m", "0755", "hello", "$KILN_DESTDIR/usr/bin/hello"],',
      '  ["sleep", "1.5"],',
      ']\n',
      '[install]\nbinaries = ["/usr/bin/hello"]\n',
    ].join('\n'),
    { 'hello.c': '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' },
  );
  const { ctx } = testContext(cache);
  const store = join(cache, 'store');
  const leftovers = async (): Promise<string[]> => [
    ...(await readdir(join(store, '.build')).catch(() => [] as string[])),
    ...(await readdir(join(store, '.locks')).catch(() => [] as string[])),
    ...(await readdir(store).catch(() => [] as string[])).filter((n) => n.includes('.tmp-')),
  ];
  let sawLeftovers = false;
  // One kill early (lock, resolve, toolchain), then kills at moments after the builder has taken
  // its key's lock (polled, so a slow machine still gets kills inside the build).
  for (const afterLockMs of [-1, 0, 400, 1200, 2200, 3200]) {
    const run = kiln(['-q', 'build'], dir, cache);
    let exited = false;
    void run.done.then(() => (exited = true));
    if (afterLockMs < 0) await new Promise((resolve) => setTimeout(resolve, 300));
    else {
      const holding = async (): Promise<boolean> => {
        for (const name of await readdir(join(store, '.locks')).catch(() => [] as string[])) {
          if ((await readFile(join(store, '.locks', name), 'utf8').catch(() => '')).startsWith(`${run.pid} `)) return true;
        }
        return false;
      };
      while (!exited && !(await holding())) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, afterLockMs));
    }
    run.kill();
    const { code, stderr } = await run.done;
    assert.ok(code === null || code === 0, `kiln build failed on its own: ${stderr}`);
    for (const entry of await listEntries(ctx)) {
      assert.equal((await hashTree(entry.tree)).sha256, entry.meta.treeSha256, `${entry.dir} is complete`);
    }
    // No directory that looks like an entry without being one.
    const names = (await readdir(join(cache, 'store')).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}-/.test(n));
    assert.equal(names.length, (await listEntries(ctx)).length);
    if ((await leftovers()).length > 0) sawLeftovers = true;
  }
  // At least one kill landed inside a build: it left a dead lock, a work tree or a temporary entry.
  assert.ok(sawLeftovers, 'no kill landed inside a build');
  const dry = await kiln(['gc', '--dry-run'], dir, cache).done;
  assert.equal(dry.code, 0, dry.stderr);
  if ((await leftovers()).length > 0) assert.match(dry.stdout, /would remove .*(interrupted build|builder that is gone)/);
  const rerun = await kiln(['build'], dir, cache).done;
  assert.equal(rerun.code, 0, rerun.stderr);
  const entries = await listEntries(ctx);
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.meta.name, 'slow');
  const gc = await kiln(['gc'], dir, cache).done;
  assert.equal(gc.code, 0, gc.stderr);
  assert.deepEqual((await readdir(join(cache, 'store'))).filter((n) => n.includes('.tmp-')), []);
  assert.equal((await listEntries(ctx)).length, 1, 'the project still uses its entry');
  const root = JSON.parse(await readFile(join(cache, 'store', 'roots', (await readdir(join(cache, 'store', 'roots')))[0]!), 'utf8')) as { project: string };
  assert.equal(root.project, dir);
});
