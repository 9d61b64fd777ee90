import semver from 'semver';

/**
 * Version orderings of the ecosystems kiln audits: Debian's (deb-version(7)) for Debian
 * packages and the kernel, semver for kiln packages. Each compare returns <0, 0 or >0.
 */

/** A syntactically valid Debian version: [epoch:]upstream[-revision], as dpkg accepts it. */
export function isDebianVersion(version: string): boolean {
  return /^(?:\d+:)?[0-9][A-Za-z0-9.+~:-]*$/.test(version) && validParts(version);
}

function validParts(version: string): boolean {
  const colon = version.indexOf(':');
  const rest = colon >= 0 ? version.slice(colon + 1) : version;
  // Without an epoch the upstream part may not contain a colon; without a revision, no hyphen.
  if (colon < 0 && rest.includes(':')) return false;
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : '';
  return /^[0-9]/.test(upstream) && (dash < 0 || /^[A-Za-z0-9.+~]+$/.test(revision));
}

/** semver ordering for kiln packages; versions that are not semver sort as text after valid ones. */
export function compareSemver(a: string, b: string): number {
  const left = semver.valid(a);
  const right = semver.valid(b);
  if (left && right) return semver.compare(left, right);
  if (left) return -1;
  if (right) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Debian version ordering ([epoch:]upstream[-revision]), as deb-version(7) defines it, so
 * "the newest cached kernel" means what apt would mean by it. Returns <0, 0 or >0.
 */
export function compareDebianVersions(a: string, b: string): number {
  const left = splitVersion(a);
  const right = splitVersion(b);
  return left.epoch - right.epoch || compareFragment(left.upstream, right.upstream) || compareFragment(left.revision, right.revision);
}

function splitVersion(version: string): { epoch: number; upstream: string; revision: string } {
  const colon = version.indexOf(':');
  const epoch = colon > 0 ? Number.parseInt(version.slice(0, colon), 10) || 0 : 0;
  const rest = colon > 0 ? version.slice(colon + 1) : version;
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) } : { epoch, upstream: rest, revision: '' };
}

/**
 * Alternates non-digit runs (compared character by character, with '~' before everything,
 * even the end of the string, and letters before other symbols) and digit runs (compared as
 * numbers).
 */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i]!)) || (j < b.length && !isDigit(b[j]!))) {
      const diff = charWeight(a[i]) - charWeight(b[j]);
      if (diff !== 0) return diff;
      i++;
      j++;
    }
    let startA = i;
    let startB = j;
    while (a[startA] === '0') startA++;
    while (b[startB] === '0') startB++;
    i = startA;
    j = startB;
    while (i < a.length && isDigit(a[i]!)) i++;
    while (j < b.length && isDigit(b[j]!)) j++;
    const numA = a.slice(startA, i);
    const numB = b.slice(startB, j);
    // Without leading zeros, a longer digit run is a bigger number; equal lengths compare as text.
    if (numA.length !== numB.length) return numA.length - numB.length;
    if (numA !== numB) return numA < numB ? -1 : 1;
  }
  return 0;
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

/** A digit or the end of the string weighs 0: the non-digit run has ended there. */
function charWeight(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (c === '~') return -1;
  const code = c.charCodeAt(0);
  return /[A-Za-z]/.test(c) ? code : code + 256;
}
