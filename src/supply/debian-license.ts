import { createRequire } from 'node:module';
import { checkLicense, NOASSERTION } from './licenses.js';

/**
 * The license of a Debian package, from /usr/share/doc/PKG/copyright: THE one mapping from
 * Debian's copyright files to SPDX (src/debian re-exports it; image inventories and Debian
 * package flows must agree on a package's license).
 *
 * One rule: a license that is *named* (a DEP-5 License field) always gives a valid SPDX
 * expression. Debian short names map to SPDX ids; a name with no SPDX id becomes
 * LicenseRef-Debian-<sanitised name> (SPDX allows LicenseRef-[idstring]) so the name is kept
 * for reports and policies. Free-form files are read only for the usual GNU statement or a
 * public-domain statement; when neither is there the license is NOASSERTION, because guessing
 * from prose would put a claim in the SBOM that nobody checked. A few source packages kiln
 * always ships are known by name, because their copyright files are free-form and long.
 */

const require = createRequire(import.meta.url);
const SPDX_IDS = require('spdx-license-ids') as string[];
const BY_LOWER = new Map(SPDX_IDS.map((id) => [id.toLowerCase(), id]));

/** Source packages whose license kiln states itself (checked against their copyright files). */
const KNOWN_SOURCES: Record<string, string> = {
  linux: 'GPL-2.0-only',
  'linux-signed-amd64': 'GPL-2.0-only',
  'linux-signed-arm64': 'GPL-2.0-only',
  glibc: 'LGPL-2.1-or-later',
  musl: 'MIT',
  'gcc-12': 'GPL-3.0-or-later WITH GCC-exception-3.1',
  zlib: 'Zlib',
  openssl: 'Apache-2.0',
};

/** Debian short names (copyright-format 1.0, §7.2; lower case) whose SPDX id is not simply the same name. */
const DEBIAN_NAMES: Record<string, string> = {
  expat: 'MIT',
  mit: 'MIT',
  'bsd-2-clause': 'BSD-2-Clause',
  'bsd-3-clause': 'BSD-3-Clause',
  'bsd-4-clause': 'BSD-4-Clause',
  artistic: 'Artistic-1.0-Perl', // Debian's "Artistic" is Perl's Artistic License
  'artistic-1': 'Artistic-1.0',
  'artistic-2': 'Artistic-2.0',
  'apache-2': 'Apache-2.0',
  zlib: 'Zlib',
  isc: 'ISC',
  cc0: 'CC0-1.0',
  'cc0-1': 'CC0-1.0',
  'bsl-1': 'BSL-1.0',
  'boost-1.0': 'BSL-1.0',
  openssl: 'OpenSSL',
  ssleay: 'OpenSSL', // the OpenSSL license text is the OpenSSL + SSLeay pair
  'psf-2': 'PSF-2.0',
  python: 'Python-2.0',
  curl: 'curl',
  x11: 'X11',
  'mpl-1.1': 'MPL-1.1',
  'mpl-2': 'MPL-2.0',
  'mpl-2.0': 'MPL-2.0',
  'ofl-1.1': 'OFL-1.1',
  'bzip2-1.0.6': 'bzip2-1.0.6',
  'gfdl-niv-1.2': 'GFDL-1.2-no-invariants-only',
  'gfdl-niv-1.2+': 'GFDL-1.2-no-invariants-or-later',
  'gfdl-niv-1.3': 'GFDL-1.3-no-invariants-only',
  'gfdl-niv-1.3+': 'GFDL-1.3-no-invariants-or-later',
  // LLVM's name for its license (clang, libc++): a license with an exception, as one Debian name.
  'apache-2-llvm-exceptions': 'Apache-2.0 WITH LLVM-exception',
  // One id for all public-domain code (Debian names and free-form statements), so reports group it.
  'public-domain': 'LicenseRef-public-domain',
  pd: 'LicenseRef-public-domain',
};

/** GNU family names: "GPL-2" -> GPL-2.0-only, "GPL-2+" -> GPL-2.0-or-later, "LGPL-2.1+" -> LGPL-2.1-or-later. */
const GNU = /^(a?gpl|lgpl|gfdl)-(\d)(?:\.(\d))?(\+?)$/;

/** SPDX exceptions for Debian's "with X exception" wording; others make the whole term a LicenseRef. */
const EXCEPTIONS: Record<string, string | ((base: string) => string | undefined)> = {
  'gcc-runtime': 'GCC-exception-3.1',
  'gcc-runtime-library': 'GCC-exception-3.1',
  classpath: 'Classpath-exception-2.0',
  // Debian says just "Autoconf exception"; which one follows from the GPL version it loosens.
  autoconf: (base) => (base.startsWith('GPL-3') ? 'Autoconf-exception-3.0' : base.startsWith('GPL-2') ? 'Autoconf-exception-2.0' : undefined),
  'autoconf-3': 'Autoconf-exception-3.0',
  'autoconf-2': 'Autoconf-exception-2.0',
  bison: (base) => (base.startsWith('GPL-3') ? 'Bison-exception-2.2' : undefined),
  libtool: 'Libtool-exception',
  font: 'Font-exception-2.0',
};

export interface DebianLicense {
  /** A valid SPDX expression, or NOASSERTION. */
  license: string;
  /** Where it came from, for reports: 'known', 'dep5', 'text' or 'none'. */
  via: 'known' | 'dep5' | 'text' | 'none';
}

/** A package's license: a known source package, else its DEP-5 License, else a free-form GNU/public-domain statement. */
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

/** The debianLicense() of a package as a bare expression (what components record). */
export function packageLicense(sourcePackage: string, copyright: string | undefined): string {
  return debianLicense(sourcePackage, copyright).license;
}

/** The DEP-5 reading alone: the package's main license, or NOASSERTION when the file is missing or not DEP-5. */
export function licenseFromCopyright(text: string | undefined): string {
  return (text && dep5License(text)) || NOASSERTION;
}

/**
 * The main license of a DEP-5 file as SPDX (the License of the paragraph whose Files include
 * "*", else the header's, else the first Files paragraph's), or undefined when the file is not
 * DEP-5 or names no license.
 */
export function dep5License(copyright: string): string | undefined {
  const paragraphs = copyright.split(/\n[ \t]*\n/).map(parseParagraph).filter((p) => p.size > 0);
  const header = paragraphs[0];
  // Early drafts of the format wrote Format-Specification and pointed at the DEP-5 page.
  const format = header?.get('format') ?? header?.get('format-specification');
  if (!header || !format || !/copyright-format|dep-?5/i.test(format)) return undefined;
  const whole = paragraphs.find((p) => p.get('files')?.split(/\s+/).includes('*'));
  const firstFiles = paragraphs.find((p) => p.has('files'));
  const field = whole?.get('license') ?? header.get('license') ?? firstFiles?.get('license');
  const synopsis = field?.split('\n')[0]!.trim();
  return synopsis ? debianExpressionToSpdx(synopsis) : undefined;
}

/** deb822 fields of one paragraph, names lower-cased; continuation lines are kept after a newline. */
function parseParagraph(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$/.exec(line);
    if (match) {
      current = match[1]!.toLowerCase();
      fields.set(current, match[2]!);
    } else if (current && /^\s/.test(line)) {
      fields.set(current, `${fields.get(current)}\n${line.trim()}`);
    }
  }
  return fields;
}

/**
 * One Debian short name to one SPDX id: GNU names with "+" to -or-later, the names of
 * DEBIAN_NAMES, SPDX ids in any case; anything else to LicenseRef-Debian-<name>.
 */
export function debianLicenseToSpdx(name: string): string {
  const trimmed = name.trim();
  const lower = trimmed.toLowerCase();
  const gnu = GNU.exec(lower);
  if (gnu) {
    const [, family, major, minor, plus] = gnu;
    const id = BY_LOWER.get(`${family}-${major}.${minor ?? '0'}-${plus ? 'or-later' : 'only'}`);
    if (id) return id;
  }
  const mapped = DEBIAN_NAMES[lower] ?? BY_LOWER.get(lower);
  if (mapped) return mapped;
  if (lower.endsWith('+')) {
    const bare = lower.slice(0, -1);
    const later = BY_LOWER.get(`${bare}-or-later`) ?? (BY_LOWER.has(bare) ? `${BY_LOWER.get(bare)}+` : undefined);
    if (later) return later;
  }
  return licenseRef(trimmed);
}

/** LicenseRef-Debian-<name> with only the characters SPDX's idstring allows (letters, digits, "." and "-"). */
function licenseRef(name: string): string {
  const idstring = name
    .replace(/\+$/, '-or-later')
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
  return `LicenseRef-Debian-${idstring || 'unknown'}`;
}

/**
 * Debian's License expression ("GPL-2+ or Artistic", "BSD-3-clause and Expat",
 * "GPL-2+ with OpenSSL exception") to SPDX. Commas bind loosest (as DEP-5 says), then "or",
 * then "and". Known exceptions become WITH; others make the whole term a LicenseRef, since
 * SPDX's exception list does not cover Debian's free-form ones. Always a valid expression:
 * NOASSERTION for an empty field, and one LicenseRef for a field that still does not parse.
 */
export function debianExpressionToSpdx(expression: string): string {
  const groups = expression
    .split(',')
    .map((group) => group.trim().replace(/^and\s+/i, ''))
    .filter((group) => group.length > 0);
  if (groups.length === 0) return NOASSERTION;
  const converted = groups.map((group) => {
    const alternatives = group.split(/\s+or\s+/i).map((alternative) =>
      alternative
        .split(/\s+and\s+/i)
        .map((term) => termToSpdx(term.trim()))
        .join(' AND '),
    );
    return alternatives.length > 1 ? alternatives.map((a) => (a.includes(' AND ') ? `(${a})` : a)).join(' OR ') : alternatives[0]!;
  });
  const spdx = converted.length > 1 ? converted.map((c) => (c.includes(' OR ') ? `(${c})` : c)).join(' AND ') : converted[0]!;
  return checkLicense(spdx).valid ? spdx : licenseRef(expression);
}

function termToSpdx(term: string): string {
  const withException = /^(\S+)\s+with\s+(.+?)(?:\s+exception)?$/i.exec(term);
  if (!withException) return debianLicenseToSpdx(term.replace(/\s+/g, '-'));
  const base = debianLicenseToSpdx(withException[1]!);
  const rule = EXCEPTIONS[withException[2]!.toLowerCase().replace(/\s+/g, '-')];
  const exception = typeof rule === 'function' ? rule(base) : rule;
  if (exception && !base.startsWith('LicenseRef-')) return `${base} WITH ${exception}`;
  return licenseRef(`${withException[1]!.replace(/\+$/, '-or-later')}-with-${withException[2]!}-exception`);
}

/**
 * The main statement of a free-form file: "GNU (Lesser|Library) General Public License ... version N
 * ... or (at your option) any later version" (also written "(or, at your option, any later
 * version)"), or "... is public domain" when that comes first.
 */
export function statementLicense(copyright: string): string | undefined {
  const flat = copyright.replace(/\s+/g, ' ');
  const match = /GNU (Lesser |Library |Affero )?General Public License,? (?:as published by the Free Software Foundation;? )?(?:either )?version (\d(?:\.\d)?)(?: of the License)?,? (\(?or,? \(?at your option\)?,? any later version)?/i.exec(flat);
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
