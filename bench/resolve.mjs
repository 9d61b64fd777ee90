// Benchmark of the dependency resolver (not a test): generates a 10,000-package universe from a
// fixed seed (several versions each; newer versions of a package need newer majors of some of
// their dependencies, so resolutions meet real conflicts), resolves a root with a large
// closure through the same code `kiln lock` uses, and prints min and median over N runs
// (default 7). Usage: node bench/resolve.mjs [runs] [packages] [lag, default 0.1] [nearby, default 0.3]
import { cpus } from 'node:os';
import semver from 'semver';
import { resolveDependencies } from '../dist/src/packages/resolve/index.js';

const runs = Number(process.argv[2] ?? 7);
const count = Number(process.argv[3] ?? 10000);
// How often a version lags behind its dependencies' newest majors (more lag: more conflicts).
const lag = Number(process.argv[4] ?? 0.1);
// Share of dependencies on nearby packages rather than the core (0.7: chains reach almost everything).
const nearby = Number(process.argv[5] ?? 0.3);

// mulberry32: a small deterministic PRNG, so every run and every machine sees the same universe.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(seed) {
  const rand = prng(seed);
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
  const names = Array.from({ length: count }, (_, i) => `pkg${String(i).padStart(5, '0')}`);
  const universe = new Map();
  for (let i = 0; i < count; i++) {
    const majors = int(1, 3);
    const versions = [];
    for (let major = 1; major <= majors; major++) for (let minor = 0, n = int(1, 4); minor < n; minor++) versions.push(`${major}.${minor}.0`);
    // Dependencies point at lower-numbered packages (a DAG, like real ecosystems): most at a
    // widely used core (the first 2%), some at packages nearby (libraries of the same family).
    const core = Math.ceil(count / 50);
    const fanOut = i < 20 ? 0 : int(0, 6);
    const deps = [];
    for (let k = 0; k < fanOut; k++) {
      const j = i > core && rand() < nearby ? i - int(1, Math.min(300, i - core)) : int(0, Math.min(i, core) - 1);
      if (!deps.includes(j)) deps.push(j);
    }
    // A hidden reference version per package whose dependencies all accept the reference
    // versions below it, so the universe always has a solution; the other versions' ranges are
    // random, so newest-first choices still run into conflicts and have to backtrack.
    const reference = rand() >= lag ? versions.length - 1 : int(0, versions.length - 1);
    const entry = new Map();
    versions.forEach((version, v) => {
      const dependencies = {};
      for (const j of deps) {
        const target = universe.get(names[j]);
        if (v === reference) {
          const major = semver.major(target.reference);
          dependencies[names[j]] = rand() < 0.7 ? `^${major}.0.0` : `>=${major}.0.0 <${major + 1}.0.0`;
          continue;
        }
        const major = rand() >= 2 * lag ? target.majors : int(1, target.majors);
        const style = rand();
        dependencies[names[j]] = style < 0.6 ? `^${major}.0.0` : style < 0.9 ? `>=${major}.0.0 <${major + 1}.0.0` : `~${major}.0.0`;
      }
      entry.set(version, { dependencies, buildDependencies: {} });
    });
    universe.set(names[i], { majors, reference: versions[reference], versions: entry, sorted: [...versions].sort(semver.compare) });
  }
  return { names, universe };
}

const { names, universe } = generate(20261127);
const provider = {
  async versions(name) {
    return universe.get(name)?.sorted ?? [];
  },
  async dependencies(name, version) {
    return universe.get(name).versions.get(version);
  },
  async names() {
    return names;
  },
};
const totalVersions = [...universe.values()].reduce((n, p) => n + p.versions.size, 0);
const totalEdges = [...universe.values()].reduce((n, p) => n + [...p.versions.values()].reduce((m, v) => m + Object.keys(v.dependencies).length, 0), 0);

// The root depends on 100 packages from the top fifth of the universe (the deepest closures).
const rootDeps = {};
const pick = prng(7);
while (Object.keys(rootDeps).length < 100) rootDeps[names[count - 1 - Math.floor(pick() * 2000)]] = '*';
const root = { name: 'bench-root', version: '1.0.0', dependencies: rootDeps, buildDependencies: {} };

const times = [];
let last;
for (let r = 0; r < runs; r++) {
  const started = performance.now();
  last = await resolveDependencies(provider, root);
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
console.log(`kiln resolver benchmark — ${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpus()[0]?.model.trim()}, node ${process.version}`);
console.log(`universe: ${count} packages, ${totalVersions} versions, ${totalEdges} dependency edges (seed 20261127, lag ${lag}, nearby ${nearby})`);
console.log(`root: ${Object.keys(rootDeps).length} direct dependencies -> closure of ${last.packages.length} packages`);
console.log(`solver: ${last.stats.decisions} decisions, ${last.stats.conflicts} conflicts, ${last.stats.backtracks} backtracks`);
console.log(`resolve: min ${Math.round(times[0])} ms, median ${Math.round(times[Math.floor(times.length / 2)])} ms (${runs} runs)`);
