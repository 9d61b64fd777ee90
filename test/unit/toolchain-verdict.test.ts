import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createContext } from '../../src/context.js';
import { isKilnError, ErrorCodes } from '../../src/errors.js';
import { MemoryReporter } from '../../src/events.js';
import { detectCompiler } from '../../src/toolchain/compiler.js';
import { installToolchain, type InstalledToolchain } from '../../src/toolchain/install.js';
import { verdictError, verifyToolchain } from '../../src/toolchain/verify.js';
import { tempDir } from '../helpers.js';

const MUSL = 'x86_64-kiln-linux-musl';

test('no host compiler: the error names the Debian packages that give one', async () => {
  await assert.rejects(detectCompiler({ PATH: '/nonexistent' }), (error: unknown) => {
    assert.ok(isKilnError(error, ErrorCodes.COMPILER_MISSING));
    assert.match(error.hint!, /apt-get install gcc g\+\+ musl-tools/);
    assert.match(error.hint!, /clang/);
    return true;
  });
  await assert.rejects(detectCompiler({ PATH: '/nonexistent' }, 'clang'), /the host compiler clang is not installed/);
});

test('detects the host compiler version instead of assuming one', async () => {
  const gcc = await detectCompiler(process.env, 'gcc');
  assert.match(gcc.version, /^\d+\.\d+\.\d+$/);
  assert.match(gcc.identity, /gcc/);
  assert.equal(gcc.machine, 'x86_64-linux-gnu');
});

test('a broken combination gives a recorded verdict naming the failed step and the compiler output', async () => {
  const cache = await tempDir('kiln-tc-verdict-');
  const bin = join(cache, 'bin');
  await mkdir(bin, { recursive: true });
  // A stand-in wrapper that compiles but cannot link, as a host gcc with a mismatched libc would.
  const wrapper = join(bin, `${MUSL}-gcc`);
  await writeFile(wrapper, '#!/bin/sh\nfor a; do [ "$a" = -c ] && exec /usr/bin/gcc "$@"; done\necho "ld: cannot find crt1.o: No such file or directory" >&2\nexit 1\n');
  await chmod(wrapper, 0o755);
  const toolchain = {
    prefix: cache,
    binDir: bin,
    tuples: [{ tuple: MUSL, provenance: { tuple: MUSL, wrapper: 'kiln-toolchain/1', compiler: 'fake gcc 0.1' } }],
    skipped: [],
  } as unknown as InstalledToolchain;
  const events = new MemoryReporter();
  const ctx = createContext({ paths: { cache, state: join(cache, 'state') }, reporter: events });
  const verdict = await verifyToolchain(ctx, toolchain, { tuple: MUSL });
  assert.equal(verdict.ok, false);
  assert.deepEqual(verdict.steps.map((s) => [s.step, s.ok]), [['compile', true], ['link', false]]);
  assert.match(verdict.steps[1]!.detail, /cannot find crt1\.o/);
  const error = verdictError(verdict);
  assert.equal(error.code, ErrorCodes.TOOLCHAIN_BROKEN);
  assert.match(error.message, /x86_64-kiln-linux-musl over fake gcc 0\.1 failed at the link step/);
  assert.ok(error.details.some((line) => /cannot find crt1\.o/.test(line)));
  // A failure is recorded, but tried again on the next use (the user may have fixed the host)...
  const verdictFiles = await readdir(join(cache, 'toolchain', 'verdicts'));
  assert.equal(verdictFiles.length, 1);
  const real = await installToolchain(ctx, { prefix: join(cache, 'real'), tuples: [MUSL] });
  await writeFile(wrapper, `#!/bin/sh\nexec '${join(real.binDir, `${MUSL}-gcc`)}' "$@"\n`);
  const fixed = await verifyToolchain(ctx, toolchain, { tuple: MUSL });
  assert.equal(fixed.ok, true, JSON.stringify(fixed.steps));
  assert.ok(!events.events.some((e) => e.type === 'cache' && e.what === 'toolchain verdict'));
  // ...while a success comes from the cache, keyed by the compiler identity.
  await writeFile(wrapper, '#!/bin/sh\nexit 1\n');
  assert.deepEqual(await verifyToolchain(ctx, toolchain, { tuple: MUSL }), fixed);
  assert.ok(events.events.some((e) => e.type === 'cache' && e.what === 'toolchain verdict' && e.hit));
});
