import { checkLicense, NOASSERTION } from './licenses.js';

/**
 * The license of a Debian package, from /usr/share/doc/PKG/copyright. Machine-readable (DEP-5)
 * files name their licenses with Debian's short names, which are mapped to SPDX ids; the
 * license of the `Files: *` paragraph is the package's main license. Free-form files are read
 * for the usual GNU statement. A few packages kiln always ships are known by source name,
 * because their copyright files are free-form and long (glibc, gcc's runtime libraries).
 */

/** Source packages whose license kiln states itself (checked against their copyright files). */
const KNOWN_SOURCES: Record<string, string> = {
  linux: 'GPL-2.0-only',
  'linux-signed-amd64': 'GPL-2.0-only',
  glibc: 'LGPL-2.1-or-later',
  musl: 'MIT',
  'gcc-12': 'GPL-3.0-or-later WITH GCC-exception-3.1',
  zlib: 'Zlib',
  openssl: 'Apache-2.0',
};

/** Debian short names (copyright-format 1.0, §7.2) that are not SPDX ids as written. */
const DEBIAN_NAMES: Record<string, string> = {
  'GPL-1': 'GPL-1.0-only',
  'GPL-1+': 'GPL-1.0-or-later',
  'GPL-2': 'GPL-2.0-only',
  'GPL-2+': 'GPL-2.0-or-later',
  'GPL-3': 'GPL-3.0-only',
  'GPL-3+': 'GPL-3.0-or-later',
  'LGPL-2': 'LGPL-2.0-only',
  'LGPL-2+': 'LGPL-2.0-or-later',
  'LGPL-2.1': 'LGPL-2.1-only',
  'LGPL-2.1+': 'LGPL-2.1-or-later',
  'LGPL-3': 'LGPL-3.0-only',
  'LGPL-3+': 'LGPL-3.0-or-later',
  'AGPL-3': 'AGPL-3.0-only',
  'AGPL-3+': 'AGPL-3.0-or-later',
  'GFDL-1.2+': 'GFDL-1.2-or-later',
  'GFDL-1.3+': 'GFDL-1.3-or-later',
  Expat: 'MIT',
  'BSD-2-clause': 'BSD-2-Clause',
  'BSD-3-clause': 'BSD-3-Clause',
  'BSD-4-clause': 'BSD-4-Clause',
  'Apache-2': 'Apache-2.0',
  'Apache-2.0': 'Apache-2.0',
  'MPL-2': 'MPL-2.0',
  'MPL-1.1': 'MPL-1.1',
  zlib: 'Zlib',
  'Artistic-2': 'Artistic-2.0',
  'public-domain': 'LicenseRef-public-domain',
  'PD': 'LicenseRef-public-domain',
  'ISC': 'ISC',
};

export interface DebianLicense {
  /** An SPDX expression, or NOASSERTION. */
  license: string;
  /** Where it came from, for reports: 'known', 'dep5', 'text' or 'none'. */
  via: 'known' | 'dep5' | 'text' | 'none';
}

export function debianLicense(sourcePackage: string, copyright: string | undefined): DebianLicense {
  const known = KNOWN_SOURCES[sourcePackage];
  if (known) return { license: known, via: 'known' };
  if (copyright) {
    const dep5 = dep5License(copyright);
    if (dep5) return { license: dep5, via: 'dep5' };
    const text = statementLicense(copyright);
    if (text) return { license: text, via: 'text' };
  }
  return { license: NOASSERTION, via: 'none' };
}

/** The main license of a DEP-5 file, as SPDX, or undefined when it is not DEP-5 or not mappable. */
export function dep5License(copyright: string): string | undefined {
  const paragraphs = copyright.split(/\n\s*\n/).map(parseParagraph);
  if (!paragraphs[0]?.has('format')) return undefined;
  const main = paragraphs.find((p) => p.get('files')?.split(/\s+/).includes('*')) ?? paragraphs.find((p) => p.has('files')) ?? paragraphs[0];
  const field = main.get('license') ?? paragraphs[0].get('license');
  return field ? debianExpressionToSpdx(field.split('\n')[0]!.trim()) : undefined;
}

function parseParagraph(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$/.exec(line);
    if (match && !/^\s/.test(line)) {
      current = match[1]!.toLowerCase();
      fields.set(current, match[2]!);
    } else if (current && /^\s/.test(line)) {
      fields.set(current, `${fields.get(current)}\n${line.trim()}`);
    }
  }
  return fields;
}

/** "GPL-2+ or Artistic", "LGPL-2.1+ and BSD-3-clause", "GPL-3+ with Autoconf exception" → SPDX, or undefined. */
export function debianExpressionToSpdx(field: string): string | undefined {
  const tokens = field.replace(/,/g, ' ').split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const lower = token.toLowerCase();
    if (lower === 'or' || lower === 'and') out.push(lower.toUpperCase());
    else if (lower === 'with') {
      // Debian writes "with NAME exception"; SPDX needs a known exception id, which a free name rarely is.
      return undefined;
    } else {
      const id = DEBIAN_NAMES[token] ?? token;
      out.push(id);
    }
  }
  const expression = out.join(' ');
  const check = checkLicense(expression);
  return check.valid && expression !== '' ? expression : undefined;
}

/**
 * The main statement of a free-form file: "GNU (Lesser|Library) General Public License ... version N
 * ... or (at your option) any later version", or "... is public domain" when that comes first.
 */
export function statementLicense(copyright: string): string | undefined {
  const flat = copyright.replace(/\s+/g, ' ');
  const match = /GNU (Lesser |Library |Affero )?General Public License,? (?:as published by the Free Software Foundation;? )?(?:either )?version (\d(?:\.\d)?)(?: of the License)?,? (or \(at your option\) any later version)?/i.exec(flat);
  // "This library is public domain software" before any GNU statement (libselinux) is the main license.
  const publicDomain = /\bis (?:in the )?public domain\b/i.exec(flat);
  if (publicDomain && (!match || publicDomain.index < match.index)) return 'LicenseRef-public-domain';
  if (!match) return undefined;
  const family = match[1]?.trim().toLowerCase();
  const prefix = family === 'affero' ? 'AGPL' : family ? 'LGPL' : 'GPL';
  const version = match[2]!.includes('.') ? match[2]! : `${match[2]}.0`;
  const id = `${prefix}-${version}-${match[3] ? 'or-later' : 'only'}`;
  return checkLicense(id).valid ? id : undefined;
}
