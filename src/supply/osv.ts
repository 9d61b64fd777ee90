import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { KilnError, ErrorCodes } from '../errors.js';
import { cvss3BaseScore, severityOfLabel, severityOfScore, SEVERITIES, type Severity } from './cvss.js';

/**
 * Advisories in the OSV schema (https://ossf.github.io/osv-schema/): one record per file, or
 * an array of records, or an OSV API answer ({"vulns": [...]}), from a directory tree or one
 * http(s) URL. A file that is not valid OSV is reported with its path and the rest are used;
 * affected entries for ecosystems kiln does not audit are counted and reported.
 */

const EventSchema = z.object({ introduced: z.string().optional(), fixed: z.string().optional(), last_affected: z.string().optional(), limit: z.string().optional() });
const RangeSchema = z.object({ type: z.string(), events: z.array(EventSchema), repo: z.string().optional() });
const SeveritySchema = z.object({ type: z.string(), score: z.string() });
const AffectedSchema = z.object({
  package: z.object({ ecosystem: z.string(), name: z.string(), purl: z.string().optional() }),
  ranges: z.array(RangeSchema).optional(),
  versions: z.array(z.string()).optional(),
  severity: z.array(SeveritySchema).optional(),
  ecosystem_specific: z.record(z.string(), z.unknown()).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});
const AdvisorySchema = z.object({
  id: z.string().min(1),
  modified: z.string().optional(),
  withdrawn: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  summary: z.string().optional(),
  details: z.string().optional(),
  severity: z.array(SeveritySchema).optional(),
  affected: z.array(AffectedSchema).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export type OsvAdvisory = z.infer<typeof AdvisorySchema>;
export type OsvAffected = z.infer<typeof AffectedSchema>;
export type OsvRange = z.infer<typeof RangeSchema>;

/** Ecosystems kiln matches: Debian (source packages, "Debian" or "Debian:12") and kiln packages. */
export type Ecosystem = 'Debian' | 'kiln';

export interface Advisory extends OsvAdvisory {
  /** Where it was read from (a path relative to the database, or the URL). */
  file: string;
}

export interface AdvisoryDatabase {
  source: string;
  advisories: Advisory[];
  /** Files that are not OSV, with their path and what is wrong; their advisories were not used. */
  problems: { file: string; message: string }[];
  /** Affected entries for ecosystems kiln does not audit: ecosystem → how many advisories name it. */
  unknownEcosystems: Record<string, number>;
  withdrawn: number;
  files: number;
}

export function ecosystemOf(name: string): { ecosystem: Ecosystem; release?: string } | undefined {
  const [base, release] = name.split(':', 2);
  if (base === 'Debian') return { ecosystem: 'Debian', ...(release ? { release } : {}) };
  if (base === 'kiln') return { ecosystem: 'kiln' };
  return undefined;
}

/** Reads a database from a directory (every *.json below it) or an http(s) URL of one JSON document. */
export async function loadAdvisories(source: string, options: { signal?: AbortSignal } = {}): Promise<AdvisoryDatabase> {
  const db: AdvisoryDatabase = { source, advisories: [], problems: [], unknownEcosystems: {}, withdrawn: 0, files: 0 };
  if (/^https?:\/\//.test(source)) {
    let text: string;
    try {
      const response = await fetch(source, { ...(options.signal ? { signal: options.signal } : {}) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      text = await response.text();
    } catch (error) {
      throw new KilnError(ErrorCodes.ADVISORY_DB_INVALID, `cannot fetch advisories from ${source}: ${(error as Error).message}`, { cause: error, hint: 'check the URL, or give a directory of OSV JSON files' });
    }
    addDocument(db, source, text);
    return finish(db);
  }
  const info = await stat(source).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.ADVISORY_DB_INVALID, `advisory database ${source} does not exist`, { cause: error, hint: 'give a directory of OSV JSON files (--db DIR) or an http(s) URL' });
  });
  const files = info.isDirectory() ? await jsonFiles(source) : [source];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch((error: Error) => {
      db.problems.push({ file, message: `cannot read: ${error.message}` });
      return undefined;
    });
    if (text !== undefined) addDocument(db, info.isDirectory() ? relative(source, file) : file, text);
  }
  return finish(db);
}

async function jsonFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await jsonFiles(path)));
    else if (entry.name.endsWith('.json')) found.push(path);
  }
  return found;
}

function addDocument(db: AdvisoryDatabase, file: string, text: string): void {
  db.files++;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    db.problems.push({ file, message: `not JSON: ${(error as Error).message}` });
    return;
  }
  const records = Array.isArray(json) ? json : json && typeof json === 'object' && Array.isArray((json as { vulns?: unknown }).vulns) ? (json as { vulns: unknown[] }).vulns : [json];
  records.forEach((record, index) => {
    const parsed = AdvisorySchema.safeParse(record);
    const where = records.length > 1 || Array.isArray(json) ? `${file}[${index}]` : file;
    if (!parsed.success) {
      db.problems.push({ file: where, message: `not an OSV record: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`).join('; ')}` });
      return;
    }
    if (parsed.data.withdrawn) {
      db.withdrawn++;
      return;
    }
    const unknown = new Set((parsed.data.affected ?? []).map((a) => a.package.ecosystem).filter((name) => !ecosystemOf(name)));
    for (const name of unknown) db.unknownEcosystems[name] = (db.unknownEcosystems[name] ?? 0) + 1;
    db.advisories.push({ ...parsed.data, file: where });
  });
}

function finish(db: AdvisoryDatabase): AdvisoryDatabase {
  db.advisories.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.file < b.file ? -1 : 1));
  return db;
}

/**
 * Whether `version` is affected: listed in `versions`, or inside a range. Range events are
 * applied in version order, the last one at or below the version deciding (introduced: from
 * here; fixed/limit: from here not; last_affected: after here not). GIT ranges need commit
 * history and are skipped.
 */
export function isAffected(affected: OsvAffected, version: string, compare: (a: string, b: string) => number): boolean {
  if (affected.versions?.includes(version)) return true;
  for (const range of affected.ranges ?? []) {
    if (range.type === 'GIT') continue;
    if (inRange(range, version, compare)) return true;
  }
  return false;
}

function inRange(range: OsvRange, version: string, compare: (a: string, b: string) => number): boolean {
  const points = range.events.flatMap((event) =>
    (Object.entries(event) as [keyof typeof event, string | undefined][]).filter((entry): entry is [keyof typeof event, string] => entry[1] !== undefined).map(([kind, at]) => ({ kind, at })),
  );
  // "0" is OSV's "since the beginning", below every version.
  const at = (x: string, y: string) => (x === y ? 0 : x === '0' ? -1 : y === '0' ? 1 : compare(x, y));
  points.sort((a, b) => at(a.at, b.at));
  let affected = false;
  for (const point of points) {
    const cmp = point.at === '0' ? 1 : compare(version, point.at);
    if (point.kind === 'introduced' && cmp >= 0) affected = true;
    else if ((point.kind === 'fixed' || point.kind === 'limit') && cmp >= 0) affected = false;
    else if (point.kind === 'last_affected' && cmp > 0) affected = false;
  }
  return affected;
}

/** The first `fixed` version above `version` in the ranges, for "upgrade to" hints. */
export function fixedVersion(affected: OsvAffected, version: string, compare: (a: string, b: string) => number): string | undefined {
  // Only ranges that hold this version, and never GIT ranges (their events are commit ids).
  const holding = (affected.ranges ?? []).filter((range) => range.type !== 'GIT' && inRange(range, version, compare));
  const fixes = holding.flatMap((range) => range.events.map((event) => event.fixed).filter((fixed): fixed is string => fixed !== undefined && compare(fixed, version) > 0));
  return fixes.sort(compare)[0];
}

export interface AdvisorySeverity {
  severity: Severity | 'unknown';
  score?: number;
}

/**
 * The highest severity an advisory states for an affected entry: CVSS v3 vectors are scored,
 * labels (database_specific.severity, ecosystem_specific.severity, e.g. "HIGH", "moderate")
 * are mapped. No usable statement gives "unknown".
 */
export function advisorySeverity(advisory: OsvAdvisory, affected?: OsvAffected): AdvisorySeverity {
  let best: AdvisorySeverity = { severity: 'unknown' };
  const consider = (severity: Severity | undefined, score?: number) => {
    if (!severity) return;
    if (best.severity === 'unknown' || SEVERITIES.indexOf(severity) > SEVERITIES.indexOf(best.severity) || (severity === best.severity && (score ?? -1) > (best.score ?? -1))) {
      best = { severity, ...(score !== undefined ? { score } : {}) };
    }
  };
  for (const entry of [...(advisory.severity ?? []), ...(affected?.severity ?? [])]) {
    if (entry.type === 'CVSS_V3') {
      const score = cvss3BaseScore(entry.score);
      if (score !== undefined) consider(severityOfScore(score), score);
    } else consider(severityOfLabel(entry.score));
  }
  for (const bag of [advisory.database_specific, affected?.database_specific, affected?.ecosystem_specific]) {
    const label = bag?.['severity'];
    if (typeof label === 'string') consider(severityOfLabel(label));
  }
  return best;
}
