import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildKey } from '../../src/pkgbuild/build.js';
import { buildOrder, runtimeClosure } from '../../src/pkgbuild/project.js';
import { expandArgument } from '../../src/pkgbuild/sandbox.js';
import { isKilnError, ErrorCodes } from '../../src/errors.js';
import type { Lockfile, LockedPackage } from '../../src/packages/lock.js';

const pkg = (name: string, dependencies: string[] = [], buildDependencies: string[] = []): LockedPackage => ({
  name, version: '1.0.0', source: 'catalogue', recipeSha256: '0'.repeat(64), license: 'MIT', sources: [], dependencies, buildDependencies, buildOnly: false,
});
const lock = (packages: LockedPackage[]): Lockfile => ({ version: 1, root: { name: 'app', version: '1.0.0', dependencies: {}, buildDependencies: {} }, packages });

test('build order puts every package after what it needs, build edges included', () => {
  const order = buildOrder(lock([pkg('app-lib', ['zlib'], ['cmake']), pkg('cmake', ['zlib']), pkg('zlib')])).map((p) => p.name);
  assert.ok(order.indexOf('zlib') < order.indexOf('cmake'));
  assert.ok(order.indexOf('cmake') < order.indexOf('app-lib'));
});

test('a cycle in the lock is named, with its path', () => {
  assert.throws(() => buildOrder(lock([pkg('a', ['b']), pkg('b', [], ['a'])])), (e: unknown) => isKilnError(e, ErrorCodes.DEPENDENCY_CYCLE) && /a -> b -> a/.test(e.message));
});

test('the runtime closure follows runtime edges only', () => {
  assert.deepEqual(runtimeClosure(lock([pkg('a', ['b'], ['tool']), pkg('b', ['c']), pkg('c'), pkg('tool', ['d']), pkg('d')]), ['a']), ['a', 'b', 'c']);
});

test('the build key changes with every input and not with the order of dependency keys', () => {
  const base = { recipeSha256: 'r', sources: ['s'], tuple: 't', toolchain: 'gcc 12', deps: ['k1', 'k2'], kind: 'package' as const };
  const key = buildKey(base);
  assert.equal(buildKey({ ...base, deps: ['k2', 'k1'] }), key);
  for (const changed of [{ recipeSha256: 'x' }, { sources: ['x'] }, { tuple: 'x' }, { toolchain: 'gcc 13' }, { deps: ['k1'] }, { kind: 'project' as const }]) {
    assert.notEqual(buildKey({ ...base, ...changed }), key, JSON.stringify(changed));
  }
});

test('$KILN_ variables expand in step arguments; an unknown one is an error', () => {
  const env = { KILN_TUPLE: 'x86_64-kiln-linux-musl', KILN_JOBS: '2' };
  assert.equal(expandArgument('$KILN_TUPLE-gcc', env), 'x86_64-kiln-linux-musl-gcc');
  assert.equal(expandArgument('-j${KILN_JOBS}', env), '-j2');
  assert.equal(expandArgument('$HOME stays', env), '$HOME stays');
  assert.throws(() => expandArgument('$KILN_NOPE', env), (e: unknown) => isKilnError(e, ErrorCodes.RECIPE_INVALID));
});

test("a bake's appGuestPath must be a normalised absolute path outside what kiln reserves", async () => {
  const { gatherBakeInputs } = await import('../../src/bake/gather.js');
  const { createContext } = await import('../../src/context.js');
  const { MemoryReporter } = await import('../../src/events.js');
  const ctx = createContext({ paths: { cache: '/nonexistent', state: '/nonexistent' }, reporter: new MemoryReporter() });
  for (const appGuestPath of ['usr/bin/x', '/usr/../bin/x', '/', '/init', '/kiln/init', '/usr/bin/']) {
    // Refused before anything is read: the app path does not even exist.
    await assert.rejects(gatherBakeInputs(ctx, { appPath: '/nonexistent/app', appGuestPath, target: {} as never }), (e: unknown) => isKilnError(e, ErrorCodes.USAGE), appGuestPath);
  }
});
