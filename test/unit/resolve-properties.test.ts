import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import semver from 'semver';
import { Solver, NoSolutionError, explainFailure } from '../../src/packages/resolve/index.js';
import { memoryUniverse, type UniverseSpec } from '../fixtures/packages/universe.js';

/**
 * Property tests over random small universes: whatever the resolver answers is checked
 * independently — a solution must meet every requirement of every selected package, and
 * "no solution" must agree with a brute-force search over every combination of versions.
 */
const VERSIONS = ['1.0.0', '1.1.0', '2.0.0', '2.1.0'];
const RANGES = ['^1.0.0', '>=1.1.0', '<2.0.0', '2.0.0', '*', '^3.0.0', '1.0.0 || 2.1.0', '>=1.1.0 <2.1.0'];
const NAMES = ['a', 'b', 'c', 'd', 'e'];

const depsArb = fc.dictionary(fc.constantFrom(...NAMES, 'ghost'), fc.constantFrom(...RANGES), { maxKeys: 3 });
const universeArb = fc.record({
  packages: fc.tuple(...NAMES.map(() => fc.dictionary(fc.constantFrom(...VERSIONS), depsArb, { maxKeys: 4 }))),
  root: fc.dictionary(fc.constantFrom(...NAMES), fc.constantFrom(...RANGES), { minKeys: 1, maxKeys: 3 }),
});

function toSpec(packages: Record<string, Record<string, string>>[]): UniverseSpec {
  const spec: UniverseSpec = {};
  packages.forEach((versions, i) => {
    if (Object.keys(versions).length > 0) spec[NAMES[i]!] = versions;
  });
  return spec;
}

function satisfiesAll(spec: UniverseSpec, rootDeps: Record<string, string>, chosen: Map<string, string>): string | undefined {
  const need = (deps: Record<string, string>, who: string): string | undefined => {
    for (const [dep, range] of Object.entries(deps)) {
      const v = chosen.get(dep);
      if (v === undefined) return `${who} needs ${dep} ${range}, not selected`;
      if (!semver.satisfies(v, range)) return `${who} needs ${dep} ${range}, got ${v}`;
      if (!spec[dep]?.[v]) return `${dep} ${v} does not exist`;
    }
    return undefined;
  };
  const problem = need(rootDeps, 'root');
  if (problem) return problem;
  for (const [name, version] of chosen) {
    if (name === 'root') continue;
    const entry = spec[name]?.[version] as Record<string, string> | undefined;
    if (!entry) return `${name} ${version} does not exist`;
    const p = need(entry, `${name} ${version}`);
    if (p) return p;
  }
  return undefined;
}

function bruteForce(spec: UniverseSpec, rootDeps: Record<string, string>): boolean {
  const options = NAMES.map((n) => [undefined, ...Object.keys(spec[n] ?? {})]);
  const chosen = new Map<string, string>();
  const search = (i: number): boolean => {
    if (i === NAMES.length) return satisfiesAll(spec, rootDeps, chosen) === undefined;
    for (const v of options[i]!) {
      if (v === undefined) chosen.delete(NAMES[i]!);
      else chosen.set(NAMES[i]!, v);
      if (search(i + 1)) return true;
    }
    chosen.delete(NAMES[i]!);
    return false;
  };
  return search(0);
}

async function solve(spec: UniverseSpec, rootDeps: Record<string, string>): Promise<Map<string, string> | NoSolutionError> {
  const universe = memoryUniverse(spec);
  const provider = {
    versions: async (name: string) => (name === 'root' ? ['1.0.0'] : universe.versions(name)),
    dependencies: async (name: string, version: string) => (name === 'root' ? { dependencies: rootDeps, buildDependencies: {} } : universe.dependencies(name, version)),
  };
  try {
    return await new Solver(provider, 'root').solve('1.0.0');
  } catch (error) {
    if (error instanceof NoSolutionError) return error;
    throw error;
  }
}

test('every solution meets every requirement; every "no solution" is confirmed by brute force', async () => {
  let solved = 0;
  let unsolvable = 0;
  await fc.assert(
    fc.asyncProperty(universeArb, async ({ packages, root }) => {
      const spec = toSpec(packages);
      const result = await solve(spec, root);
      if (result instanceof NoSolutionError) {
        unsolvable++;
        assert.equal(bruteForce(spec, root), false, 'the resolver gave up but a solution exists');
        const lines = explainFailure(result.incompatibility, result.spaces, 'root');
        assert.ok(lines.length > 0 && /no versions satisfy the requirements\.$/.test(lines[lines.length - 1]!), lines.join('\n'));
      } else {
        solved++;
        assert.equal(satisfiesAll(spec, root, result), undefined);
      }
    }),
    { numRuns: 600, seed: 6 },
  );
  // The generator must exercise both outcomes, or the property proves little.
  assert.ok(solved > 50 && unsolvable > 50, `solved ${solved}, unsolvable ${unsolvable}`);
});

test('the newest allowed version is chosen when nothing forbids it', async () => {
  await fc.assert(
    fc.asyncProperty(fc.subarray(VERSIONS, { minLength: 1 }), fc.constantFrom(...RANGES), async (versions, range) => {
      const spec: UniverseSpec = { a: Object.fromEntries(versions.map((v) => [v, {}])) };
      const result = await solve(spec, { a: range });
      const newest = semver.maxSatisfying(versions, range);
      if (newest === null) assert.ok(result instanceof NoSolutionError);
      else assert.equal((result as Map<string, string>).get('a'), newest);
    }),
    { numRuns: 200, seed: 7 },
  );
});
