import type { Incompatibility } from './incompatibility.js';
import type { Term, VersionSpace } from './term.js';

/**
 * Turns the incompatibility that proved "no solution" into numbered sentences, following the
 * derivation graph from external facts (dependencies, missing versions) to the conclusion —
 * the linear error reporting of the PubGrub documentation: a derived fact used twice gets a
 * line number so later lines can refer back to it instead of repeating its derivation.
 */
export function explainFailure(root: Incompatibility, spaces: Map<string, VersionSpace>, rootPkg: string): string[] {
  const text = new Describer(spaces, rootPkg);
  const derivations = new Map<Incompatibility, number>();
  const count = (i: Incompatibility): void => {
    const seen = derivations.get(i);
    derivations.set(i, (seen ?? 0) + 1);
    if (seen === undefined && i.cause.kind === 'conflict') {
      count(i.cause.left);
      count(i.cause.right);
    }
  };
  const lines: { message: string; number?: number }[] = [];
  const numbers = new Map<Incompatibility, number>();
  const write = (i: Incompatibility, message: string, numbered: boolean): void => {
    if (numbered) {
      const number = numbers.size + 1;
      numbers.set(i, number);
      lines.push({ message, number });
    } else lines.push({ message });
  };
  const derived = (i: Incompatibility): boolean => i.cause.kind === 'conflict';
  const singleLine = (i: Incompatibility): boolean => i.cause.kind === 'conflict' && !derived(i.cause.left) && !derived(i.cause.right);
  const collapsible = (i: Incompatibility): boolean => {
    if ((derivations.get(i) ?? 0) > 1 || i.cause.kind !== 'conflict') return false;
    const { left, right } = i.cause;
    if (derived(left) === derived(right)) return false;
    return !numbers.has(derived(left) ? left : right);
  };

  const visit = (i: Incompatibility, conclusion = false): void => {
    if (i.cause.kind !== 'conflict') return;
    const numbered = conclusion || (derivations.get(i) ?? 0) > 1;
    const and = conclusion || i === root ? 'So,' : 'And';
    const said = text.incompatibility(i);
    const { left, right } = i.cause;
    if (derived(left) && derived(right)) {
      const leftLine = numbers.get(left);
      const rightLine = numbers.get(right);
      if (leftLine !== undefined && rightLine !== undefined) {
        write(i, `Because ${text.and(left, right, leftLine, rightLine)}, ${said}.`, numbered);
      } else if (leftLine !== undefined || rightLine !== undefined) {
        const [withLine, withoutLine, line] = leftLine !== undefined ? [left, right, leftLine] : [right, left, rightLine!];
        visit(withoutLine);
        write(i, `${and} because ${text.incompatibility(withLine)} (${line}), ${said}.`, numbered);
      } else if (singleLine(left) || singleLine(right)) {
        const [first, second] = singleLine(right) ? [left, right] : [right, left];
        visit(first);
        visit(second);
        write(i, `Thus, ${said}.`, numbered);
      } else {
        visit(left, true);
        lines.push({ message: '' });
        visit(right);
        write(i, `${and} because ${text.incompatibility(left)} (${numbers.get(left)}), ${said}.`, numbered);
      }
    } else if (derived(left) || derived(right)) {
      const [inner, external] = derived(left) ? [left, right] : [right, left];
      const innerLine = numbers.get(inner);
      if (innerLine !== undefined) {
        write(i, `Because ${text.and(external, inner, undefined, innerLine)}, ${said}.`, numbered);
      } else if (collapsible(inner) && inner.cause.kind === 'conflict') {
        const c = inner.cause;
        const [collapsedDerived, collapsedExternal] = derived(c.left) ? [c.left, c.right] : [c.right, c.left];
        visit(collapsedDerived);
        write(i, `${and} because ${text.and(collapsedExternal, external)}, ${said}.`, numbered);
      } else {
        visit(inner);
        write(i, `${and} because ${text.incompatibility(external)}, ${said}.`, numbered);
      }
    } else {
      write(i, `Because ${text.and(left, right)}, ${said}.`, numbered);
    }
  };

  if (root.cause.kind !== 'conflict') return [`Because ${text.incompatibility(root)}, no versions satisfy the requirements.`];
  count(root);
  visit(root);
  const width = Math.max(0, ...lines.map((l) => (l.number === undefined ? 0 : `(${l.number}) `.length)));
  return lines.map((l) => (l.message === '' ? '' : (l.number === undefined ? ' '.repeat(width) : `(${l.number}) `.padEnd(width)) + l.message).trimEnd());
}

class Describer {
  constructor(
    private readonly spaces: Map<string, VersionSpace>,
    private readonly rootPkg: string,
  ) {}

  private space(pkg: string): VersionSpace | undefined {
    return this.spaces.get(pkg);
  }

  /** "a ^1", "a 1.2.0", or just "app" for the project itself. */
  positive(pkg: string, set: bigint): string {
    if (pkg === this.rootPkg) return pkg;
    const space = this.space(pkg);
    const label = space ? space.label(set) : '*';
    return label === '*' ? pkg : `${pkg} ${label}`;
  }

  term(t: Term): string {
    const space = this.space(t.pkg);
    if (!t.absent) return this.positive(t.pkg, t.set);
    return `not ${this.positive(t.pkg, (space?.all ?? 0n) & ~t.set)}`;
  }

  incompatibility(i: Incompatibility): string {
    const cause = i.cause;
    if (cause.kind === 'dependency') {
      const own = i.terms.find((t) => t.pkg === cause.pkg);
      const who = own ? this.positive(own.pkg, own.set) : cause.pkg;
      const verb = cause.build ? 'needs' : 'depends on';
      const suffix = cause.build ? ' to build' : '';
      const space = this.space(cause.dependency);
      if (!space || space.versions.length === 0) return `${who} ${verb} ${cause.dependency}${suffix} (no package source offers it)`;
      if (space.fromRange(cause.range) === 0n) return `${who} ${verb} ${cause.dependency} ${cause.range}${suffix} (none of its versions matches: ${space.versions.join(', ')})`;
      return `${who} ${verb} ${cause.dependency} ${cause.range}${suffix}`;
    }
    if (cause.kind === 'no-versions') {
      const t = i.terms[0];
      return t ? `no versions of ${t.pkg} match ${this.space(t.pkg)?.label(t.set) ?? '*'}` : 'no versions match';
    }
    if (cause.kind === 'root') return `${this.rootPkg} is the project`;
    const terms = i.terms;
    if (terms.length === 0) return 'no versions satisfy the requirements';
    if (terms.length === 1) {
      const t = terms[0]!;
      if (t.pkg === this.rootPkg && !t.absent) return 'no versions satisfy the requirements';
      return t.absent ? `${this.positive(t.pkg, (this.space(t.pkg)?.all ?? 0n) & ~t.set)} is required` : `${this.term(t)} is forbidden`;
    }
    if (terms.length === 2) {
      const positive = terms.filter((t) => !t.absent);
      const negative = terms.filter((t) => t.absent);
      if (positive.length === 1 && negative.length === 1) {
        const n = negative[0]!;
        const p = positive[0]!;
        const needed = this.positive(n.pkg, (this.space(n.pkg)?.all ?? 0n) & ~n.set);
        return p.pkg === this.rootPkg ? `${this.rootPkg} requires ${needed}` : `${this.term(p)} requires ${needed}`;
      }
      if (positive.length === 2) return `${this.term(positive[0]!)} is incompatible with ${this.term(positive[1]!)}`;
    }
    return `these cannot all hold: ${terms.map((t) => this.term(t)).join(', ')}`;
  }

  and(a: Incompatibility, b: Incompatibility, aLine?: number, bLine?: number): string {
    // "app depends on x ^1 and app depends on y ^2" reads better as "app depends on x ^1 and y ^2".
    if (aLine === undefined && bLine === undefined && a.cause.kind === 'dependency' && b.cause.kind === 'dependency' && !a.cause.build && !b.cause.build) {
      const first = this.incompatibility(a);
      const second = this.incompatibility(b);
      const prefix = /^(.*? depends on )/.exec(first)?.[1];
      if (prefix && second.startsWith(prefix)) return `${first} and ${second.slice(prefix.length)}`;
    }
    const first = this.incompatibility(a) + (aLine === undefined ? '' : ` (${aLine})`);
    const second = this.incompatibility(b) + (bLine === undefined ? '' : ` (${bLine})`);
    return `${first} and ${second}`;
  }
}
