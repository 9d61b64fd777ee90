import { distance } from 'fastest-levenshtein';
import { KilnError, ErrorCodes } from '../../errors.js';
import { explainFailure } from './explain.js';
import { NoSolutionError, Solver, type SolverProvider } from './solver.js';

export { Solver, NoSolutionError, type SolverProvider } from './solver.js';
export { explainFailure } from './explain.js';

/** The package universe a resolution draws from (a SourceSet, or an in-memory one in tests). */
export interface Universe extends SolverProvider {
  names?(): Promise<string[]>;
}

export interface ResolveRoot {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  buildDependencies: Record<string, string>;
}

export interface ResolvedPackage {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  buildDependencies: Record<string, string>;
  /** Needed only to build something (not reachable from the root through runtime dependencies). */
  buildOnly: boolean;
}

export interface Resolution {
  root: ResolveRoot;
  /** Every selected package except the root, sorted by name. */
  packages: ResolvedPackage[];
  stats: Solver['stats'];
}

export interface ResolveOptions {
  /** Versions to try first (the current kiln.lock), unless still allowed they are ignored. */
  prefer?: Map<string, string>;
}

/**
 * Picks one version of every package the root needs, build dependencies included (they share
 * the universe: a package cannot be two versions at once in one project). Fails with
 * KILN_PACKAGE_UNKNOWN (with close names), KILN_NO_SOLUTION (with the chain of requirements that
 * conflict) or KILN_DEPENDENCY_CYCLE.
 */
export async function resolveDependencies(universe: Universe, root: ResolveRoot, options: ResolveOptions = {}): Promise<Resolution> {
  for (const name of [...Object.keys(root.dependencies), ...Object.keys(root.buildDependencies)]) {
    if (name !== root.name && (await universe.versions(name)).length === 0) throw await unknownPackage(universe, name);
  }
  const provider: SolverProvider = {
    versions: async (name) => (name === root.name ? [root.version] : universe.versions(name)),
    dependencies: async (name, version) => (name === root.name ? root : universe.dependencies(name, version)),
  };
  const solver = new Solver(provider, root.name, options.prefer);
  let chosen: Map<string, string>;
  try {
    chosen = await solver.solve(root.version);
  } catch (error) {
    if (!(error instanceof NoSolutionError)) throw error;
    const lines = explainFailure(error.incompatibility, error.spaces, root.name);
    const missing = [...error.spaces.values()].filter((s) => s.versions.length === 0).map((s) => s.name);
    const hints = await Promise.all(missing.map(async (name) => suggestion(universe, name)));
    throw new KilnError(ErrorCodes.NO_SOLUTION, `no versions of the dependencies of ${root.name} satisfy every requirement`, {
      details: lines,
      hint: [...hints.filter((h) => h !== ''), 'relax a range in kiln.toml, or add an index that offers a matching version'].join('; '),
    });
  }
  const graph = new Map<string, { runtime: string[]; build: string[] }>();
  const packages: ResolvedPackage[] = [];
  for (const [name, version] of chosen) {
    const deps = name === root.name ? root : await universe.dependencies(name, version);
    graph.set(name, { runtime: Object.keys(deps.dependencies).sort(), build: Object.keys(deps.buildDependencies).sort() });
    if (name !== root.name) packages.push({ name, version, dependencies: deps.dependencies, buildDependencies: deps.buildDependencies, buildOnly: false });
  }
  const cycle = findCycle(root.name, graph);
  if (cycle) {
    throw new KilnError(ErrorCodes.DEPENDENCY_CYCLE, `dependency cycle: ${cycle}`, {
      hint: 'a package cannot need itself, directly or through others; remove one of these dependencies',
    });
  }
  const runtime = reachable(root.name, graph);
  for (const p of packages) p.buildOnly = !runtime.has(p.name);
  packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { root, packages, stats: solver.stats };
}

function reachable(start: string, graph: Map<string, { runtime: string[] }>): Set<string> {
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length > 0) {
    for (const next of graph.get(queue.pop()!)?.runtime ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen;
}

/**
 * A loop in the chosen packages' dependency graph ("a -> b -> (build) c -> a"), or undefined.
 * Build dependencies count: a package that needs itself to be built cannot be built either.
 */
export function findCycle(start: string, graph: Map<string, { runtime: string[]; build: string[] }>): string | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: { name: string; build: boolean }[] = [];
  const visit = (name: string, build: boolean): string | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'open') {
      const from = path.findIndex((p) => p.name === name);
      const loop = [...path.slice(from), { name, build }];
      return loop.map((p, i) => (i === 0 ? p.name : `${p.build ? '(build) ' : ''}${p.name}`)).join(' -> ');
    }
    state.set(name, 'open');
    path.push({ name, build });
    const edges = graph.get(name);
    for (const [next, isBuild] of [...(edges?.runtime ?? []).map((n) => [n, false] as const), ...(edges?.build ?? []).map((n) => [n, true] as const)]) {
      const found = visit(next, isBuild);
      if (found) return found;
    }
    path.pop();
    state.set(name, 'done');
    return undefined;
  };
  return visit(start, false);
}

async function suggestion(universe: Universe, name: string): Promise<string> {
  const names = (await universe.names?.()) ?? [];
  const close = names
    .map((n) => ({ n, d: distance(n, name) }))
    .filter(({ n, d }) => d <= Math.max(2, Math.floor(name.length / 3)) || n.includes(name) || name.includes(n))
    .sort((a, b) => a.d - b.d || (a.n < b.n ? -1 : 1))
    .slice(0, 3)
    .map(({ n }) => n);
  return close.length > 0 ? `no package source offers ${name}; did you mean ${close.join(', ')}?` : '';
}

async function unknownPackage(universe: Universe, name: string): Promise<KilnError> {
  const hint = await suggestion(universe, name);
  return new KilnError(ErrorCodes.PACKAGE_UNKNOWN, `no package source offers a package named ${name}`, {
    hint: hint !== '' ? hint.replace(/^.*; /, '') : 'check the name, or add an index that offers it to [[indexes]] in kiln.toml',
  });
}
