import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers.js';

/** The toolchain commands as a user types them, against a private cache. */

const CLI = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function kiln(cache: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, KILN_CACHE_DIR: cache } });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

test('kiln toolchain env / cmake / meson / sysroot / install --prefix, and an unknown tuple', async () => {
  const cache = await tempDir('kiln-tc-cli-');
  const env = kiln(cache, 'toolchain', 'env');
  assert.equal(env.code, 0, env.stderr);
  const lines = env.stdout.trim().split('\n');
  assert.match(lines[0]!, /^export PATH='.*\/bin':"\$PATH"$/);
  assert.match(lines[1]!, /^export CONFIG_SITE='.*config\.site'$/);
  // The printed lines work in a shell: eval them, then the wrapper is found by name.
  const sh = spawnSync('/bin/sh', ['-c', `${env.stdout}\nx86_64-kiln-linux-musl-gcc -dumpmachine`], { encoding: 'utf8' });
  assert.equal(sh.stdout, 'x86_64-kiln-linux-musl\n');

  const cmake = kiln(cache, 'toolchain', 'cmake');
  assert.equal(cmake.code, 0, cmake.stderr);
  assert.ok(existsSync(cmake.stdout.trim()));
  assert.match(readFileSync(cmake.stdout.trim(), 'utf8'), /x86_64-kiln-linux-musl-gcc/);
  const meson = kiln(cache, 'toolchain', 'meson', '--tuple', 'x86_64-kiln-linux-gnu');
  assert.equal(meson.code, 0, meson.stderr);
  assert.match(readFileSync(meson.stdout.trim(), 'utf8'), /x86_64-kiln-linux-gnu-g\+\+/);

  const sysroot = kiln(cache, 'sysroot', 'x86_64-kiln-linux-musl');
  assert.equal(sysroot.stdout, join(cache, 'sysroot', 'x86_64-kiln-linux-musl') + '\n');
  assert.ok(existsSync(join(sysroot.stdout.trim(), 'usr', 'lib', 'pkgconfig')));

  const prefix = join(cache, 'prefix');
  const install = kiln(cache, 'toolchain', 'install', '--prefix', prefix, '--tuple', 'x86_64-kiln-linux-musl');
  assert.equal(install.code, 0, install.stderr);
  assert.match(install.stdout, /x86_64-kiln-linux-musl: works \(compiled, linked and ran on: host\)/);
  assert.ok(existsSync(join(prefix, 'bin', 'x86_64-kiln-linux-musl-pkg-config')));

  const unknown = kiln(cache, 'sysroot', 'x86_64-rumprun-netbsd');
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /KILN_TUPLE_UNKNOWN: unknown target tuple "x86_64-rumprun-netbsd"/);
  assert.match(unknown.stderr, /known tuples: x86_64-kiln-linux-musl, x86_64-kiln-linux-gnu/);
  const badCc = kiln(cache, 'toolchain', 'env', '--cc', 'tcc');
  assert.match(badCc.stderr, /unknown compiler "tcc"/);
});
