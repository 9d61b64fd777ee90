/**
 * CVSS v3.0/v3.1 base scores from a vector string ("CVSS:3.1/AV:N/AC:L/..."), by the formula
 * of the CVSS v3.1 specification (section 7), and the qualitative severity scale. kiln needs
 * it because OSV records carry vectors, not scores.
 */

export type Severity = 'none' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['none', 'low', 'medium', 'high', 'critical'];

const WEIGHTS = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  CIA: { H: 0.56, L: 0.22, N: 0 },
} as const;

/** Base score 0.0–10.0, or undefined when the vector is not a complete CVSS v3 base vector. */
export function cvss3BaseScore(vector: string): number | undefined {
  const parts = vector.trim().split('/');
  if (!/^CVSS:3\.[01]$/.test(parts[0] ?? '')) return undefined;
  const metrics = new Map<string, string>();
  for (const part of parts.slice(1)) {
    const [key, value] = part.split(':');
    if (!key || !value || metrics.has(key)) return undefined;
    metrics.set(key, value);
  }
  const scope = metrics.get('S');
  if (scope !== 'U' && scope !== 'C') return undefined;
  const changed = scope === 'C';
  const av = pick(WEIGHTS.AV, metrics.get('AV'));
  const ac = pick(WEIGHTS.AC, metrics.get('AC'));
  const ui = pick(WEIGHTS.UI, metrics.get('UI'));
  const pr = pick(changed ? { N: 0.85, L: 0.68, H: 0.5 } : { N: 0.85, L: 0.62, H: 0.27 }, metrics.get('PR'));
  const c = pick(WEIGHTS.CIA, metrics.get('C'));
  const i = pick(WEIGHTS.CIA, metrics.get('I'));
  const a = pick(WEIGHTS.CIA, metrics.get('A'));
  if ([av, ac, ui, pr, c, i, a].some((value) => value === undefined)) return undefined;
  const iss = 1 - (1 - c!) * (1 - i!) * (1 - a!);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  const exploitability = 8.22 * av! * ac! * pr! * ui!;
  if (impact <= 0) return 0;
  return roundUp(Math.min((changed ? 1.08 : 1) * (impact + exploitability), 10));
}

function pick<T extends Record<string, number>>(table: T, key: string | undefined): number | undefined {
  return key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}

/** The specification's Roundup: the smallest one-decimal number >= x, immune to float noise. */
function roundUp(x: number): number {
  const scaled = Math.round(x * 100000);
  return scaled % 10000 === 0 ? scaled / 100000 : (Math.floor(scaled / 10000) + 1) / 10;
}

export function severityOfScore(score: number): Severity {
  if (score === 0) return 'none';
  if (score < 4) return 'low';
  if (score < 7) return 'medium';
  if (score < 9) return 'high';
  return 'critical';
}

/** "HIGH", "Moderate", "important", … → the CVSS scale's words. */
export function severityOfLabel(label: string): Severity | undefined {
  const word = label.trim().toLowerCase();
  if (word === 'critical') return 'critical';
  if (word === 'high' || word === 'important') return 'high';
  if (word === 'medium' || word === 'moderate') return 'medium';
  if (word === 'low' || word === 'negligible' || word === 'unimportant') return 'low';
  if (word === 'none') return 'none';
  return undefined;
}

export function severityAtLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold);
}
