import { KilnError, ErrorCodes } from '../errors.js';
import { compareDebianVersions } from '../components/debian-version.js';

/**
 * Debian package relationship fields (Depends, Pre-Depends, Provides), as deb-control(5) and
 * Debian Policy 7.1 define them: clauses separated by commas, alternatives by "|", each
 * "name[:archqual] [(op version)]". Binary packages carry no [arch] or <profile> restrictions
 * (those are for build dependencies), but they are skipped here rather than misread.
 */

export type RelationOp = '<<' | '<=' | '=' | '>=' | '>>';

export interface Alternative {
  name: string;
  /** ":any" or ":native" or an architecture; kiln resolves for one architecture, so it is informative. */
  archQualifier?: string;
  op?: RelationOp;
  version?: string;
}

/** One comma-separated clause: any one alternative satisfies it. */
export type Clause = Alternative[];

const ALTERNATIVE = /^([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?\s*(?:\(\s*(<<|<=|=|>=|>>|<|>)\s*([^)\s]+)\s*\))?\s*(?:\[[^\]]*\])?\s*(?:<[^>]*>\s*)*$/;

export function parseRelations(field: string | undefined): Clause[] {
  if (!field || field.trim() === '') return [];
  const clauses: Clause[] = [];
  for (const rawClause of field.replace(/\n/g, ' ').split(',')) {
    if (rawClause.trim() === '') continue;
    const clause: Clause = [];
    for (const raw of rawClause.split('|')) {
      const match = ALTERNATIVE.exec(raw.trim());
      if (!match) {
        throw new KilnError(ErrorCodes.DEBIAN_UNRESOLVABLE, `cannot parse the package relation "${raw.trim()}"`, { hint: "the package's Depends field is not in Debian's relation syntax" });
      }
      const [, name, archQualifier, op, version] = match;
      clause.push({
        name: name!,
        ...(archQualifier ? { archQualifier } : {}),
        // "<" and ">" are the obsolete spellings of "<=" and ">=" (Policy 7.1).
        ...(op ? { op: op === '<' ? '<=' : op === '>' ? '>=' : (op as RelationOp), version: version! } : {}),
      });
    }
    clauses.push(clause);
  }
  return clauses;
}

/** Provides entries: "name" or "name (= version)" (only "=" is allowed there). */
export function parseProvides(field: string | undefined): { name: string; version?: string }[] {
  return parseRelations(field).flatMap((clause) => clause.map((a) => ({ name: a.name, ...(a.op === '=' && a.version ? { version: a.version } : {}) })));
}

export function versionSatisfies(version: string, op: RelationOp | undefined, wanted: string | undefined): boolean {
  if (!op || wanted === undefined) return true;
  const c = compareDebianVersions(version, wanted);
  switch (op) {
    case '<<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    case '>>':
      return c > 0;
  }
}

export function formatAlternative(a: Alternative): string {
  return `${a.name}${a.archQualifier ? `:${a.archQualifier}` : ''}${a.op ? ` (${a.op} ${a.version})` : ''}`;
}

export function formatClause(clause: Clause): string {
  return clause.map(formatAlternative).join(' | ');
}
