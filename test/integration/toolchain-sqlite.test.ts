import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { getTarget } from '../../src/targets/registry.js';
import { installToolchain } from '../../src/toolchain/install.js';
import { shellEnvLines } from '../../src/toolchain/env.js';
import { readProvenance } from '../../src/toolchain/provenance.js';
import { run } from '../../src/util/exec.js';
import { launchCaptured, SHARED_CACHE, tempDir, testContext } from '../helpers.js';

/**
 * Proof on real code nobody here wrote: SQLite's own release tarball, as shipped inside the npm
 * package `sqlite3` (deps/sqlite-autoconf-*.tar.gz), configured with --host for the kiln tuple,
 * its shell built with the wrappers, baked and booted, running SQL given as arguments.
 * The npm tarball is fetched with `npm pack` (no install, no prebuilt binaries) and kept in the
 * shared test cache.
 */

const MUSL = 'x86_64-kiln-linux-musl';
const SQLITE3_NPM = 'sqlite3@6.0.1';

async function sqliteTarball(): Promise<string> {
  const dir = join(SHARED_CACHE, 'npm-pack');
  await mkdir(dir, { recursive: true });
  const existing = (await readdir(dir)).find((name) => /^sqlite3-6\.0\.1\.tgz$/.test(name));
  if (existing) return join(dir, existing);
  const { stdout } = await run('npm', ['pack', SQLITE3_NPM, '--silent'], { cwd: dir });
  return join(dir, stdout.trim().split('\n').pop()!);
}

test('SQLite from its autoconf tarball: configure --host, make, bake, run SQL in the VM', { timeout: 600_000 }, async (t) => {
  const { ctx } = testContext();
  const toolchain = await installToolchain(ctx);
  // What `eval "$(kiln toolchain env)"` sets.
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${toolchain.binDir}:${process.env.PATH ?? ''}`, CONFIG_SITE: toolchain.configSite, LC_ALL: 'C' };
  assert.match(shellEnvLines(toolchain.binDir, toolchain.configSite).join('\n'), /CONFIG_SITE/);

  const work = await tempDir('kiln-tc-sqlite-');
  await run('tar', ['-xzf', await sqliteTarball(), '-C', work, 'package/deps']);
  const deps = join(work, 'package', 'deps');
  const source = (await readdir(deps)).find((name) => /^sqlite-autoconf-\d+\.tar\.gz$/.test(name));
  assert.ok(source, 'the sqlite3 npm package ships deps/sqlite-autoconf-*.tar.gz');
  await run('tar', ['-xzf', join(deps, source), '-C', work]);
  const dir = join(work, source.replace(/\.tar\.gz$/, ''));

  let started = Date.now();
  // -O0: this test proves the toolchain, not the optimiser. The same build at the default -O2
  // passes too, but takes 50-80 s on a 2-core machine instead of about 5 s.
  await run('./configure', [`--host=${MUSL}`, '--disable-shared', 'CFLAGS=-O0'], { cwd: dir, env });
  t.diagnostic(`configure: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  started = Date.now();
  await run('make', ['-j2', 'sqlite3'], { cwd: dir, env });
  t.diagnostic(`make sqlite3: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const shell = join(dir, 'sqlite3');
  await access(shell);
  assert.equal(readProvenance(shell)?.tuple, MUSL);

  const image = await bake(ctx, { appPath: shell, target: getTarget('qemu') });
  assert.equal(image.manifest.app.linkage, 'static');
  const sql = "create table t(k text, v int); insert into t values ('a', 20), ('b', 22); select 'sum=' || sum(v) || ' n=' || count(*) || ' v=' || sqlite_version() from t;";
  const result = await launchCaptured(ctx, { imageDir: image.dir, args: [':memory:', sql], network: 'none' });
  assert.equal(result.exitCode, 0, result.output.slice(-2000));
  assert.match(result.output, /sum=42 n=2 v=3\.\d+\.\d+/);
});
