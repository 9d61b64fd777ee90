import { Incompatibility } from './incompatibility.js';
import { intersect, isEmpty, negate, relation, subset, VersionSpace, type Term } from './term.js';

/** What the solver asks of the package universe. */
export interface SolverProvider {
  /** Every version of `name`, oldest first (empty: no such package). */
  versions(name: string): Promise<string[]>;
  dependencies(name: string, version: string): Promise<{ dependencies: Record<string, string>; buildDependencies: Record<string, string> }>;
}

interface Assignment {
  term: Term;
  level: number;
  /** Undefined for decisions. */
  cause: Incompatibility | undefined;
  index: number;
}

/** Thrown with the incompatibility that proves no solution exists. */
export class NoSolutionError extends Error {
  constructor(
    readonly incompatibility: Incompatibility,
    readonly spaces: Map<string, VersionSpace>,
    readonly rootPkg: string,
  ) {
    super('no solution');
  }
}

/**
 * PubGrub (Natalie Weizenbaum's algorithm, as described in the pub solver documentation):
 * unit propagation over incompatibilities, decisions that prefer the newest (or a locked)
 * version, and conflict resolution that learns a new incompatibility from each conflict and
 * backjumps. Root is a package like any other with exactly one version.
 */
export class Solver {
  private readonly spaces = new Map<string, VersionSpace>();
  private readonly incompatibilities = new Map<string, Incompatibility[]>();
  private readonly assignments: Assignment[] = [];
  private readonly byPkg = new Map<string, Assignment[]>();
  private readonly known = new Map<string, Term>();
  private readonly decisions = new Map<string, string>();
  /** Packages known to be selected but not yet decided: the candidates for the next decision. */
  private readonly pending = new Set<string>();
  /** The same candidates ordered by how many versions remain (fewest first); stale entries are skipped when popped. */
  private readonly queue = new MinHeap();
  private seq = 0;
  private readonly depsAdded = new Set<string>();
  private readonly depKeys = new Set<string>();
  private level = 0;
  /** Counters for benchmarks and tests. */
  readonly stats = { decisions: 0, conflicts: 0, backtracks: 0 };

  constructor(
    private readonly provider: SolverProvider,
    private readonly rootPkg: string,
    private readonly prefer: Map<string, string> = new Map(),
  ) {}

  private space(pkg: string): VersionSpace {
    const space = this.spaces.get(pkg);
    if (!space) throw new Error(`internal: versions of ${pkg} not loaded`);
    return space;
  }

  private async load(pkg: string): Promise<VersionSpace> {
    let space = this.spaces.get(pkg);
    if (!space) {
      space = new VersionSpace(pkg, await this.provider.versions(pkg));
      this.spaces.set(pkg, space);
    }
    return space;
  }

  private make(terms: Term[], cause: Incompatibility['cause']): Incompatibility {
    return new Incompatibility(terms, cause, (p) => this.space(p), this.rootPkg);
  }

  private add(incompatibility: Incompatibility): void {
    for (const term of incompatibility.terms) {
      let list = this.incompatibilities.get(term.pkg);
      if (!list) this.incompatibilities.set(term.pkg, (list = []));
      list.push(incompatibility);
    }
  }

  private knownTerm(pkg: string): Term {
    return this.known.get(pkg) ?? this.space(pkg).any;
  }

  private assign(term: Term, cause: Incompatibility | undefined): void {
    const assignment: Assignment = { term, level: this.level, cause, index: this.assignments.length };
    this.assignments.push(assignment);
    let list = this.byPkg.get(term.pkg);
    if (!list) this.byPkg.set(term.pkg, (list = []));
    list.push(assignment);
    const known = this.known.get(term.pkg);
    const now = known ? intersect(known, term) : term;
    this.known.set(term.pkg, now);
    if (!now.absent && !this.decisions.has(term.pkg)) this.enqueue(term.pkg, now);
  }

  private enqueue(pkg: string, term: Term): void {
    this.pending.add(pkg);
    this.queue.push(this.priority(pkg, term.set), this.seq++, pkg);
  }

  /** Lower is decided sooner: the package with the fewest versions left (fewest ways to go wrong). */
  private priority(pkg: string, set: bigint): number {
    return this.space(pkg).count(set);
  }

  private backtrack(level: number): void {
    this.stats.backtracks++;
    const touched = new Set<string>();
    while (this.assignments.length > 0 && this.assignments[this.assignments.length - 1]!.level > level) {
      const removed = this.assignments.pop()!;
      touched.add(removed.term.pkg);
      this.byPkg.get(removed.term.pkg)!.pop();
    }
    for (const pkg of touched) {
      const list = this.byPkg.get(pkg)!;
      if (list.length === 0) this.known.delete(pkg);
      else this.known.set(pkg, list.slice(1).reduce((acc, a) => intersect(acc, a.term), list[0]!.term));
      const decided = this.decisions.get(pkg);
      if (decided !== undefined && !list.some((a) => a.cause === undefined)) this.decisions.delete(pkg);
      const known = this.known.get(pkg);
      if (known && !known.absent && !this.decisions.has(pkg)) this.enqueue(pkg, known);
      else this.pending.delete(pkg);
    }
    this.level = level;
  }

  /** The earliest assignment after which what is known about term.pkg satisfies `term`. */
  private satisfier(term: Term): Assignment {
    let acc: Term = { pkg: term.pkg, set: this.space(term.pkg).all, absent: true };
    for (const assignment of this.byPkg.get(term.pkg) ?? []) {
      acc = intersect(acc, assignment.term);
      if (subset(acc, term)) return assignment;
    }
    throw new Error(`internal: ${term.pkg} is not satisfied`);
  }

  /** Returns the version chosen for every selected package, root included. */
  async solve(rootVersion: string): Promise<Map<string, string>> {
    const root = await this.load(this.rootPkg);
    if (root.versions.length !== 1 || root.versions[0] !== rootVersion) throw new Error('internal: the root package must have exactly its own version');
    this.add(this.make([{ pkg: this.rootPkg, set: 0n, absent: true }], { kind: 'root' }));
    let next: string | undefined = this.rootPkg;
    while (next !== undefined) {
      this.propagate(next);
      next = await this.decide();
    }
    return new Map(this.decisions);
  }

  private propagate(start: string): void {
    const changed = new Set([start]);
    while (changed.size > 0) {
      const pkg: string = changed.values().next().value!;
      changed.delete(pkg);
      const list = this.incompatibilities.get(pkg) ?? [];
      for (let i = list.length - 1; i >= 0; i--) {
        const incompatibility = list[i]!;
        const state = this.relate(incompatibility);
        if (state === 'satisfied') {
          const learned = this.resolveConflict(incompatibility);
          const unit = this.relate(learned);
          if (unit === 'satisfied' || unit === 'contradicted' || unit === 'none') throw new Error('internal: learned incompatibility is not almost satisfied');
          this.assign(negate(unit, this.space(unit.pkg)), learned);
          changed.clear();
          changed.add(unit.pkg);
          break;
        }
        if (typeof state === 'object') {
          this.assign(negate(state, this.space(state.pkg)), incompatibility);
          changed.add(state.pkg);
        }
      }
    }
  }

  /** 'satisfied', 'contradicted', the one term left undecided (almost satisfied), or 'none'. */
  private relate(incompatibility: Incompatibility): 'satisfied' | 'contradicted' | 'none' | Term {
    let open: Term | undefined;
    for (const term of incompatibility.terms) {
      const r = relation(this.knownTerm(term.pkg), term);
      if (r === 'contradicted') return 'contradicted';
      if (r === 'inconclusive') {
        if (open) return 'none';
        open = term;
      }
    }
    return open ?? 'satisfied';
  }

  private terminal(incompatibility: Incompatibility): boolean {
    const terms = incompatibility.terms;
    return terms.length === 0 || (terms.length === 1 && terms[0]!.pkg === this.rootPkg && !terms[0]!.absent);
  }

  private resolveConflict(start: Incompatibility): Incompatibility {
    this.stats.conflicts++;
    let incompatibility = start;
    let learned = false;
    while (!this.terminal(incompatibility)) {
      let latestTerm: Term | undefined;
      let latest: Assignment | undefined;
      let difference: Term | undefined;
      let previousLevel = 1;
      for (const term of incompatibility.terms) {
        const satisfier = this.satisfier(term);
        if (!latest) {
          latest = satisfier;
          latestTerm = term;
        } else if (latest.index < satisfier.index) {
          previousLevel = Math.max(previousLevel, latest.level);
          latest = satisfier;
          latestTerm = term;
          difference = undefined;
        } else {
          previousLevel = Math.max(previousLevel, satisfier.level);
        }
        if (latestTerm === term) {
          const space = this.space(term.pkg);
          const rest = intersect(latest.term, negate(term, space));
          difference = isEmpty(rest) ? undefined : rest;
          if (difference) previousLevel = Math.max(previousLevel, this.satisfier(negate(difference, space)).level);
        }
      }
      if (!latest || !latestTerm) break;
      if (previousLevel < latest.level || latest.cause === undefined) {
        this.backtrack(previousLevel);
        if (learned) this.add(incompatibility);
        return incompatibility;
      }
      const pkg = latest.term.pkg;
      const terms = [...incompatibility.terms.filter((t) => t.pkg !== pkg), ...latest.cause.terms.filter((t) => t.pkg !== pkg)];
      if (difference) terms.push(negate(difference, this.space(pkg)));
      incompatibility = this.make(terms, { kind: 'conflict', left: incompatibility, right: latest.cause });
      learned = true;
    }
    throw new NoSolutionError(incompatibility, this.spaces, this.rootPkg);
  }

  /** Picks the next package and version; returns the package to propagate from, or undefined when done. */
  private async decide(): Promise<string | undefined> {
    let pkg: string | undefined;
    for (let top = this.queue.pop(); top !== undefined; top = this.queue.pop()) {
      if (!this.pending.has(top.pkg)) continue;
      const count = this.priority(top.pkg, this.knownTerm(top.pkg).set);
      if (count !== top.count) {
        this.queue.push(count, this.seq++, top.pkg);
        continue;
      }
      pkg = top.pkg;
      break;
    }
    if (pkg === undefined) return undefined;
    const space = this.space(pkg);
    const term = this.knownTerm(pkg);
    const version = space.pick(term.set, this.prefer.get(pkg));
    if (version === undefined) {
      this.add(this.make([{ pkg, set: term.set, absent: false }], { kind: 'no-versions' }));
      return pkg;
    }
    let conflict = false;
    if (!this.depsAdded.has(`${pkg}@${version}`)) {
      this.depsAdded.add(`${pkg}@${version}`);
      for (const incompatibility of await this.dependencyIncompatibilities(pkg, version)) {
        this.add(incompatibility);
        conflict ||= incompatibility.terms.every((t) => t.pkg === pkg || relation(this.knownTerm(t.pkg), t) === 'satisfied');
      }
    }
    if (conflict) this.queue.push(this.priority(pkg, term.set), this.seq++, pkg);
    else {
      this.level++;
      this.stats.decisions++;
      this.decisions.set(pkg, version);
      this.pending.delete(pkg);
      this.assign({ pkg, set: space.bit(version), absent: false }, undefined);
    }
    return pkg;
  }

  /**
   * "pkg (these versions) depends on dep range", one per dependency. Versions of pkg that have
   * the same requirement are merged into one incompatibility, which makes explanations read
   * like "a >=1.2.0 depends on b ^2" and lets one conflict rule out many versions at once.
   */
  private async dependencyIncompatibilities(pkg: string, version: string): Promise<Incompatibility[]> {
    const space = this.space(pkg);
    const deps = await this.provider.dependencies(pkg, version);
    const edges: { dep: string; range: string; build: boolean }[] = [
      ...Object.entries(deps.dependencies).map(([dep, range]) => ({ dep, range, build: false })),
      ...Object.entries(deps.buildDependencies).map(([dep, range]) => ({ dep, range, build: true })),
    ];
    if (edges.length === 0) return [];
    const others = pkg === this.rootPkg ? [] : await Promise.all(space.versions.map(async (v) => ({ v, deps: v === version ? deps : await this.provider.dependencies(pkg, v) })));
    const out: Incompatibility[] = [];
    for (const edge of edges) {
      const depSpace = await this.load(edge.dep);
      let set = space.bit(version);
      for (const other of others) {
        const map = edge.build ? other.deps.buildDependencies : other.deps.dependencies;
        if (map[edge.dep] === edge.range) set |= space.bit(other.v);
      }
      const key = `${pkg}|${set}|${edge.dep}|${edge.range}|${edge.build}`;
      if (this.depKeys.has(key)) continue;
      this.depKeys.add(key);
      const target: Term = { pkg: edge.dep, set: depSpace.fromRange(edge.range), absent: false };
      out.push(this.make([{ pkg, set, absent: false }, negate(target, depSpace)], { kind: 'dependency', pkg, dependency: edge.dep, range: edge.range, build: edge.build }));
    }
    return out;
  }
}

/** A binary min-heap of (count, seq) -> package: fewest remaining versions first, then oldest entry. */
class MinHeap {
  private readonly items: { count: number; seq: number; pkg: string }[] = [];

  push(count: number, seq: number, pkg: string): void {
    const items = this.items;
    items.push({ count, seq, pkg });
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): { count: number; seq: number; pkg: string } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && less(items[l]!, items[m]!)) m = l;
        if (r < items.length && less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: { count: number; seq: number }, b: { count: number; seq: number }): boolean {
  return a.count < b.count || (a.count === b.count && a.seq < b.seq);
}
