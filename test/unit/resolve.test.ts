import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveDependencies, type Resolution } from '../../src/packages/resolve/index.js';
import { isKilnError } from '../../src/errors.js';
import { memoryUniverse, type UniverseSpec } from '../fixtures/packages/universe.js';

function root(deps: Record<string, string>, build: Record<string, string> = {}) {
  return { name: 'root', version: '1.0.0', dependencies: deps, buildDependencies: build };
}

function picked(resolution: Resolution): Record<string, string> {
  return Object.fromEntries(resolution.packages.map((p) => [p.name, p.version]));
}

async function failure(spec: UniverseSpec, deps: Record<string, string>): Promise<{ code: string; details: string[]; hint?: string | undefined; message: string }> {
  try {
    await resolveDependencies(memoryUniverse(spec), root(deps));
  } catch (error) {
    if (isKilnError(error)) return { code: error.code, details: error.details, hint: error.hint, message: error.message };
    throw error;
  }
  assert.fail('expected the resolution to fail');
}

test('no conflicts', async () => {
  const spec = { foo: { '1.0.0': { bar: '^1.0.0' } }, bar: { '1.0.0': {}, '2.0.0': {} } };
  assert.deepEqual(picked(await resolveDependencies(memoryUniverse(spec), root({ foo: '^1.0.0' }))), { foo: '1.0.0', bar: '1.0.0' });
});

test('avoiding conflict during decision making', async () => {
  const spec = { foo: { '1.0.0': {}, '1.1.0': { bar: '^2.0.0' } }, bar: { '1.0.0': {}, '1.1.0': {}, '2.0.0': {} } };
  assert.deepEqual(picked(await resolveDependencies(memoryUniverse(spec), root({ foo: '^1.0.0', bar: '^1.0.0' }))), { foo: '1.0.0', bar: '1.1.0' });
});

test('performing conflict resolution', async () => {
  const spec = { foo: { '1.0.0': {}, '2.0.0': { bar: '^1.0.0' } }, bar: { '1.0.0': { foo: '^1.0.0' } } };
  const r = await resolveDependencies(memoryUniverse(spec), root({ foo: '>=1.0.0' }));
  assert.deepEqual(picked(r), { foo: '1.0.0' });
  assert.ok(r.stats.conflicts >= 1);
});

test('conflict resolution with a partial satisfier', async () => {
  const spec = {
    foo: { '1.0.0': {}, '1.1.0': { left: '^1.0.0', right: '^1.0.0' } },
    left: { '1.0.0': { shared: '>=1.0.0' } },
    right: { '1.0.0': { shared: '<2.0.0' } },
    shared: { '1.0.0': { target: '^1.0.0' }, '2.0.0': {} },
    target: { '1.0.0': {}, '2.0.0': {} },
  };
  assert.deepEqual(picked(await resolveDependencies(memoryUniverse(spec), root({ foo: '^1.0.0', target: '^2.0.0' }))), { foo: '1.0.0', target: '2.0.0' });
});

test('linear error reporting: the chain of requirements, in order', async () => {
  const spec = { foo: { '1.0.0': { bar: '^2.0.0' } }, bar: { '2.0.0': { baz: '^3.0.0' } }, baz: { '1.0.0': {}, '3.0.0': {} } };
  const f = await failure(spec, { foo: '^1.0.0', baz: '^1.0.0' });
  assert.equal(f.code, 'KILN_NO_SOLUTION');
  const text = f.details.join('\n');
  assert.match(text, /foo \^1\.0\.0 depends on bar \^2\.0\.0/);
  assert.match(text, /bar( \^2\.0\.0)? depends on baz \^3\.0\.0/);
  assert.match(text, /root depends on (foo \^1\.0\.0 and )?baz \^1\.0\.0/);
  assert.match(text, /no versions satisfy the requirements\.$/);
});

test('branching error reporting numbers a fact used twice', async () => {
  const spec = {
    foo: { '1.0.0': { a: '^1.0.0', b: '^1.0.0' }, '1.1.0': { x: '^1.0.0', y: '^1.0.0' } },
    a: { '1.0.0': { b: '^2.0.0' } },
    b: { '1.0.0': {}, '2.0.0': {} },
    x: { '1.0.0': { y: '^2.0.0' } },
    y: { '1.0.0': {}, '2.0.0': {} },
  };
  const f = await failure(spec, { foo: '^1.0.0' });
  assert.equal(f.code, 'KILN_NO_SOLUTION');
  assert.ok(f.details.length >= 3, f.details.join('\n'));
  assert.match(f.details.join('\n'), /no versions satisfy the requirements\./);
});

test('an unknown direct dependency suggests close names', async () => {
  const f = await failure({ sqlite: { '3.52.0': {} } }, { sqlit: '^3' });
  assert.equal(f.code, 'KILN_PACKAGE_UNKNOWN');
  assert.match(f.hint ?? '', /sqlite/);
});

test('an unknown transitive dependency is explained and suggested', async () => {
  const f = await failure({ app: { '1.0.0': { zlb: '^1' } }, zlib: { '1.3.0': {} } }, { app: '^1' });
  assert.equal(f.code, 'KILN_NO_SOLUTION');
  assert.match(f.details.join('\n'), /app \^1 depends on zlb \(no package source offers it\)/);
  assert.match(f.hint ?? '', /did you mean zlib/);
});

test('a runtime dependency cycle is named', async () => {
  const spec = { a: { '1.0.0': { b: '^1' } }, b: { '1.0.0': { c: '^1' } }, c: { '1.0.0': { a: '^1' } } };
  const f = await failure(spec, { a: '^1' });
  assert.equal(f.code, 'KILN_DEPENDENCY_CYCLE');
  assert.match(f.message, /a -> b -> c -> a/);
});

test('build dependencies are resolved in the same universe and marked build-only', async () => {
  const spec = {
    lib: { '1.0.0': { deps: { zlib: '^1' }, build: { cmake: '^3' } } },
    zlib: { '1.2.0': {}, '1.3.0': {} },
    cmake: { '3.0.0': { deps: { zlib: '<1.3' } } },
  };
  const r = await resolveDependencies(memoryUniverse(spec), root({ lib: '^1' }));
  assert.deepEqual(picked(r), { cmake: '3.0.0', lib: '1.0.0', zlib: '1.2.0' });
  assert.deepEqual(r.packages.filter((p) => p.buildOnly).map((p) => p.name), ['cmake']);
});

test('locked versions are preferred while they are allowed', async () => {
  const spec = { a: { '1.0.0': {}, '1.1.0': {}, '1.2.0': {} } };
  const r = await resolveDependencies(memoryUniverse(spec), root({ a: '^1' }), { prefer: new Map([['a', '1.1.0']]) });
  assert.deepEqual(picked(r), { a: '1.1.0' });
  const r2 = await resolveDependencies(memoryUniverse(spec), root({ a: '>=1.2' }), { prefer: new Map([['a', '1.1.0']]) });
  assert.deepEqual(picked(r2), { a: '1.2.0' });
});
