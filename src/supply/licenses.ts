import parseSpdx from 'spdx-expression-parse';

/**
 * SPDX license expressions as kiln uses them: validation, the ids inside an expression, a
 * policy (allow/deny) over them, and which licenses are copyleft (what needs a source offer).
 * "NOASSERTION" (nothing reliable known) and "NONE" are SPDX's own words, valid everywhere.
 */

export const NOASSERTION = 'NOASSERTION';

type SpdxNode = parseSpdx.Info;

export type LicenseCheck = { valid: true; ids: string[] } | { valid: false; message: string };

/** Parses an expression; `ids` are its license ids (with "+" kept, exceptions dropped), sorted, unique. */
export function checkLicense(expression: string): LicenseCheck {
  const trimmed = expression.trim();
  if (trimmed === NOASSERTION || trimmed === 'NONE') return { valid: true, ids: [trimmed] };
  try {
    return { valid: true, ids: [...new Set(licenseIds(parseSpdx(trimmed)))].sort() };
  } catch (error) {
    return { valid: false, message: `"${expression}" is not a valid SPDX license expression (${(error as Error).message})` };
  }
}

function licenseIds(node: SpdxNode): string[] {
  if ('conjunction' in node) return [...licenseIds(node.left), ...licenseIds(node.right)];
  return [node.plus ? `${node.license}+` : node.license];
}

export interface LicensePolicy {
  /** When non-empty, every component must be satisfiable with these ids alone ("GPL-*" globs allowed); empty means no allow list, as in kiln.toml. */
  allow?: string[];
  /** Ids no component may need. An OR expression passes when one branch avoids them. */
  deny?: string[];
}

/**
 * Whether an expression is acceptable under the policy: OR needs one acceptable side, AND
 * both. NOASSERTION passes a deny-only policy but not an allow list that does not name it.
 * Returns the offending ids (empty when acceptable).
 */
export function policyViolations(expression: string, policy: LicensePolicy): string[] {
  const check = checkLicense(expression);
  if (!check.valid) return [expression];
  const trimmed = expression.trim();
  if (trimmed === NOASSERTION || trimmed === 'NONE') return idAllowed(trimmed, policy) ? [] : [trimmed];
  const bad = new Set<string>();
  const walk = (node: SpdxNode): boolean => {
    if ('conjunction' in node) {
      const left = walk(node.left);
      const right = walk(node.right);
      return node.conjunction === 'or' ? left || right : left && right;
    }
    const id = node.plus ? `${node.license}+` : node.license;
    const ok = idAllowed(id, policy) && (!node.exception || idAllowed(node.exception, policy, true));
    if (!ok) bad.add(id);
    return ok;
  };
  return walk(parseSpdx(trimmed)) ? [] : [...bad].sort();
}

function idAllowed(id: string, policy: LicensePolicy, exception = false): boolean {
  if (policy.deny?.some((pattern) => matches(pattern, id))) return false;
  // Exceptions (e.g. GCC-exception-3.1) only loosen a license; an allow list need not name them.
  if (exception || !policy.allow || policy.allow.length === 0) return true;
  return policy.allow.some((pattern) => matches(pattern, id));
}

function matches(pattern: string, id: string): boolean {
  const bare = id.endsWith('+') ? id.slice(0, -1) : id;
  if (pattern.endsWith('*')) return id.startsWith(pattern.slice(0, -1));
  return pattern === id || pattern === bare;
}

/** Families whose terms oblige a distributor of binaries to offer the corresponding source. */
const COPYLEFT = [/^A?GPL-/, /^LGPL-/, /^GPL-/, /^MPL-/, /^EPL-/, /^EUPL-/, /^CDDL-/, /^OSL-/, /^CECILL-2/, /^CPL-/, /^MS-RL$/, /^SSPL-/];

export function isCopyleft(expression: string): boolean {
  const check = checkLicense(expression);
  return check.valid && check.ids.some((id) => COPYLEFT.some((pattern) => pattern.test(id)));
}
