import { tempDir } from '../helpers.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext } from '../../src/context.js';
import { compileArgv, compileC, compileEnv, compilerIdentity } from '../../src/toolchain/musl.js';

test('compileArgv: static -O2, reproducible flags, caller flags after ours, ldflags after sources', () => {
  const argv = compileArgv({ sources: ['src/a.c', '/abs/b.c'], output: 'out/app', cflags: ['-Os'], ldflags: ['-lm'] }, '/work');
  assert.deepEqual(argv, [
    '-static',
    '-O2',
    '-ffile-prefix-map=/work=.',
    '-ffile-prefix-map=/work/src=.',
    '-ffile-prefix-map=/abs=.',
    '-frandom-seed=kiln',
    '-Os',
    '-o',
    '/work/out/app',
    '/work/src/a.c',
    '/abs/b.c',
    '-Wl,--build-id=none',
    '-lm',
  ]);
});

test('compileArgv: static: false links dynamically; "/" is never prefix-mapped', () => {
  const argv = compileArgv({ sources: ['/a.c'], output: '/app', static: false }, '/');
  assert.ok(!argv.includes('-static'));
  assert.ok(!argv.some((flag) => flag.startsWith('-ffile-prefix-map=/=')));
});

test('compileEnv pins SOURCE_DATE_EPOCH unless the caller set one', () => {
  assert.equal(compileEnv({}).SOURCE_DATE_EPOCH, '0');
  assert.equal(compileEnv({ SOURCE_DATE_EPOCH: '1700000000' }).SOURCE_DATE_EPOCH, '1700000000');
});

test('a missing musl-gcc is KILN_COMPILER_MISSING with an install hint', async () => {
  const dir = await tempDir('kiln-musl-');
  const ctx = createContext({ paths: { cache: dir, state: dir }, env: { PATH: dir } });
  await assert.rejects(compileC(ctx, { sources: [join(dir, 'x.c')], output: join(dir, 'x') }), {
    code: 'KILN_COMPILER_MISSING',
    hint: 'apt-get install musl-tools',
  });
  await assert.rejects(compilerIdentity({ PATH: dir }), { code: 'KILN_COMPILER_MISSING' });
});
