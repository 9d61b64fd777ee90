import type { Term, VersionSpace } from './term.js';
import { intersect, isAny } from './term.js';

/** Why an incompatibility holds: a fact about the universe, or derived from two others. */
export type Cause =
  | { kind: 'root' }
  | { kind: 'dependency'; pkg: string; dependency: string; range: string; build: boolean }
  | { kind: 'no-versions' }
  | { kind: 'conflict'; left: Incompatibility; right: Incompatibility };

/** A set of terms that must not all be true at once. */
export class Incompatibility {
  readonly terms: Term[];

  constructor(
    terms: Term[],
    readonly cause: Cause,
    spaces: (pkg: string) => VersionSpace,
    rootPkg: string,
  ) {
    const byPkg = new Map<string, Term>();
    for (const term of terms) {
      const seen = byPkg.get(term.pkg);
      byPkg.set(term.pkg, seen ? intersect(seen, term) : term);
    }
    let merged = [...byPkg.values()];
    // A term true whatever happens adds nothing.
    merged = merged.filter((t) => !isAny(t, spaces(t.pkg)));
    // The root is always selected, so "root is selected" adds nothing to a derived fact.
    if (cause.kind === 'conflict' && merged.length > 1) merged = merged.filter((t) => !(t.pkg === rootPkg && !t.absent));
    this.terms = merged;
  }

  get external(): boolean {
    return this.cause.kind !== 'conflict';
  }
}
