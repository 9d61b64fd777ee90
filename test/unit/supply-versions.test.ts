import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/util/exec.js';
import { compareDebianVersions, compareSemver, isDebianVersion } from '../../src/supply/versions.js';
import { compareDebianVersions as viaComponents } from '../../src/components/debian-version.js';

/**
 * kiln's Debian version ordering against dpkg's own (`dpkg --compare-versions`) on a generated
 * corpus of a few thousand pairs: epochs, tildes, pluses, dots, letters, revisions, leading
 * zeros, and near-equal pairs (one version mutated a little), so ties and neighbours occur.
 */

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible pair. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function corpus(count: number, seed: number): [string, string][] {
  const random = rng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const digits = () => pick(['0', '1', '2', '9', '10', '01', '007', '12', '99', '100', String(Math.floor(random() * 1000))]);
  const word = () => pick(['a', 'b', 'z', 'A', 'Z', 'rc', 'beta', 'dfsg', 'git', 'deb', 'ubuntu', 'b']);
  const sep = () => pick(['.', '.', '.', '+', '~', '']);
  const upstream = (allowHyphen: boolean): string => {
    let text = digits();
    const parts = Math.floor(random() * 5);
    for (let i = 0; i < parts; i++) {
      const kind = random();
      if (kind < 0.5) text += `${pick(['.', '.', '+', '~'])}${digits()}`;
      else if (kind < 0.8) text += `${sep()}${word()}${random() < 0.5 ? digits() : ''}`;
      else if (allowHyphen && kind < 0.85) text += `-${digits()}`;
      else text += pick(['~', '~~', '+', '.']);
    }
    return text;
  };
  const version = (): string => {
    const epoch = random() < 0.25 ? `${pick(['0', '1', '2', '10'])}:` : '';
    const hasRevision = random() < 0.6;
    const revision = hasRevision ? `-${pick(['1', '0', '2', '1+b1', '1~bpo12+1', '9+deb12u14', '0.1', '1ubuntu1', `${Math.floor(random() * 20)}`, 'a'])}` : '';
    return `${epoch}${upstream(hasRevision)}${revision}`;
  };
  const mutate = (v: string): string => {
    const choices = [() => `${v}~`, () => `${v}+1`, () => `${v}.0`, () => v.replace(/\d+/, (d) => String(Number(d) + 1)), () => v.replace(/^(\d+):/, ''), () => `0:${v.replace(/^\d+:/, '')}`, () => v.replace(/\./, '0.'), () => v];
    return pick(choices)();
  };
  const pairs: [string, string][] = [];
  while (pairs.length < count) {
    const a = version();
    const b = random() < 0.4 ? mutate(a) : version();
    if (isDebianVersion(a) && isDebianVersion(b)) pairs.push([a, b]);
  }
  return pairs;
}

const OPERATOR: Record<string, string> = { '-1': 'lt', '0': 'eq', '1': 'gt' };

/**
 * Asks dpkg whether each claim "a OP b" holds: one `dpkg --compare-versions` per claim (dpkg has
 * no batch mode), run from two shell loops in parallel. Returns the claims dpkg rejects.
 */
async function dpkgRejects(claims: [string, string, string][]): Promise<string[]> {
  const script = 'while read -r a op b; do if dpkg --compare-versions "$a" "$op" "$b"; then echo 1; else echo 0; fi; done';
  const half = Math.ceil(claims.length / 2);
  const batches = [claims.slice(0, half), claims.slice(half)];
  const outputs = await Promise.all(batches.map((batch) => run('sh', ['-c', script], { input: batch.map((claim) => `${claim.join(' ')}\n`).join('') })));
  const verdicts = outputs.flatMap((out) => out.stdout.trim().split('\n'));
  assert.equal(verdicts.length, claims.length);
  return claims.filter((_, i) => verdicts[i] !== '1').map((claim) => claim.join(' '));
}

const claim = (a: string, b: string): [string, string, string] => [a, OPERATOR[String(Math.sign(compareDebianVersions(a, b)))]!, b];

test('Debian version ordering agrees with dpkg --compare-versions on a generated corpus', async () => {
  // 800 versions sorted by kiln: dpkg confirming each neighbour relation (< or =) confirms the
  // whole order by transitivity, i.e. all ~320,000 pairs; 500 random pairs are checked directly.
  // (dpkg has no batch mode: each claim is one process, ~2 ms on an idle machine.)
  const pairs = corpus(1000, 20261127);
  const versions = [...new Set(pairs.flat())].slice(0, 800).sort(compareDebianVersions);
  const neighbours = versions.slice(1).map((b, i) => claim(versions[i]!, b));
  const direct = pairs.slice(0, 500).map(([a, b]) => claim(a, b));
  const rejected = await dpkgRejects([...neighbours, ...direct]);
  assert.deepEqual(rejected.slice(0, 10), [], `${rejected.length} claims dpkg rejects`);
  // The corpus exercises each feature, and ties occur.
  assert.ok(versions.some((v) => v.includes('~')) && versions.some((v) => v.includes(':')) && versions.some((v) => v.includes('+')));
  assert.ok(neighbours.filter(([, op]) => op === 'eq').length + direct.filter(([, op]) => op === 'eq').length > 20, 'equal pairs occur');
  assert.equal(versions.length, 800);
});

test('hand-picked orderings: tilde before everything, epochs dominate, leading zeros are equal', () => {
  const ascending = ['1.0~rc1', '1.0', '1.0-0.1', '1.0-1', '1.0a', '1.0+b1', '1.00.1', '1.1', '1:0.1', '2:0'];
  for (let i = 0; i + 1 < ascending.length; i++) assert.ok(compareDebianVersions(ascending[i]!, ascending[i + 1]!) < 0, `${ascending[i]} < ${ascending[i + 1]}`);
  assert.equal(compareDebianVersions('1.01', '1.1'), 0);
  assert.equal(compareDebianVersions('0:1.0', '1.0'), 0);
  assert.ok(compareDebianVersions('2.36-9+deb12u14', '2.36-9+deb12u4') > 0);
  assert.equal(viaComponents, compareDebianVersions, 'the old import path still works');
});

test('Debian version syntax', () => {
  for (const good of ['1.0', '1:2.3-4', '2.36-9+deb12u14', '1.0~rc1-1~bpo1', '6.1.192-2', '1.2-3-4']) assert.ok(isDebianVersion(good), good);
  for (const bad of ['', 'a1.0', '1.0-', '1:', '1.0 2', '1.0_1', 'x:1.0']) assert.ok(!isDebianVersion(bad), bad);
});

test('semver ordering for kiln packages', () => {
  assert.ok(compareSemver('1.2.3', '1.10.0') < 0);
  assert.ok(compareSemver('3.52.0-rc.1', '3.52.0') < 0);
  assert.equal(compareSemver('1.0.0', '1.0.0'), 0);
  assert.ok(compareSemver('1.0.0', 'not-semver') < 0);
});
