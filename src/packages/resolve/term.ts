import semver from 'semver';

/**
 * Version sets over a finite universe: the resolver knows every version a source offers of a
 * package, so a set of versions is a bitmask over that package's sorted version list, and the
 * set operations PubGrub needs (intersection, complement, subset) are exact and cheap. The
 * semver ranges users write are translated once per (package, range).
 */
export class VersionSpace {
  readonly all: bigint;
  /** Display labels for sets that came from a written range (first range wins). */
  private readonly labels = new Map<bigint, string>();
  private readonly ranges = new Map<string, bigint>();

  /** The term that says nothing: absent or any version. */
  readonly any: Term;

  constructor(
    readonly name: string,
    /** Oldest first. */
    readonly versions: string[],
  ) {
    this.all = (1n << BigInt(versions.length)) - 1n;
    this.any = { pkg: name, set: this.all, absent: true };
  }

  index(version: string): number {
    return this.versions.indexOf(version);
  }

  bit(version: string): bigint {
    const i = this.index(version);
    return i < 0 ? 0n : 1n << BigInt(i);
  }

  fromRange(range: string): bigint {
    let set = this.ranges.get(range);
    if (set === undefined) {
      set = 0n;
      this.versions.forEach((v, i) => {
        if (semver.satisfies(v, range)) set! |= 1n << BigInt(i);
      });
      this.ranges.set(range, set);
      if (!this.labels.has(set)) this.labels.set(set, range);
    }
    return set;
  }

  /** The newest version in `set` (or `preferred` when it is in the set). */
  pick(set: bigint, preferred?: string): string | undefined {
    if (preferred !== undefined && (set & this.bit(preferred)) !== 0n) return preferred;
    for (let i = this.versions.length - 1; i >= 0; i--) if ((set >> BigInt(i)) & 1n) return this.versions[i];
    return undefined;
  }

  count(set: bigint): number {
    let n = 0;
    for (let s = set; s !== 0n; s &= s - 1n) n++;
    return n;
  }

  /** A readable name for a set: a range the user wrote, or runs of versions. */
  label(set: bigint): string {
    const known = this.labels.get(set);
    if (known !== undefined) return known;
    if (set === this.all) return '*';
    const n = this.versions.length;
    const runs: string[] = [];
    for (let i = 0; i < n; ) {
      if (!((set >> BigInt(i)) & 1n)) {
        i++;
        continue;
      }
      let j = i;
      while (j + 1 < n && (set >> BigInt(j + 1)) & 1n) j++;
      const lo = this.versions[i]!;
      const hi = this.versions[j]!;
      runs.push(i === j ? lo : j === n - 1 ? `>=${lo}` : i === 0 ? `<=${hi}` : `>=${lo} <=${hi}`);
      i = j + 1;
    }
    return runs.length === 0 ? '(no version)' : runs.join(' || ');
  }
}

/**
 * A term: "the package is absent or has a version in `set`" when `absent` is true (a negative
 * term, ¬(versions outside set)), or "the package is selected with a version in `set`" (positive).
 */
export interface Term {
  pkg: string;
  set: bigint;
  absent: boolean;
}

export function intersect(a: Term, b: Term): Term {
  return { pkg: a.pkg, set: a.set & b.set, absent: a.absent && b.absent };
}

export function negate(t: Term, space: VersionSpace): Term {
  return { pkg: t.pkg, set: space.all & ~t.set, absent: !t.absent };
}

export function isEmpty(t: Term): boolean {
  return t.set === 0n && !t.absent;
}

export function isAny(t: Term, space: VersionSpace): boolean {
  return t.absent && t.set === space.all;
}

export function subset(a: Term, b: Term): boolean {
  return (a.set & ~b.set) === 0n && (!a.absent || b.absent);
}

export type Relation = 'satisfied' | 'contradicted' | 'inconclusive';

/** How what is known so far (`known`) relates to `t` (the hot path: no allocation). */
export function relation(known: Term, t: Term): Relation {
  if ((known.set & ~t.set) === 0n && (!known.absent || t.absent)) return 'satisfied';
  if ((known.set & t.set) === 0n && !(known.absent && t.absent)) return 'contradicted';
  return 'inconclusive';
}
