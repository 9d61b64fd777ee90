import { createRequire } from 'node:module';
import { parseAptStanzas } from '../components/apt.js';
import { invalidSpdxIds } from '../packages/spdx.js';
import { debianLicense } from '../supply/debian-license.js';

/**
 * A Debian package's license, from /usr/share/doc/<package>/copyright. Only the
 * machine-readable format (DEP-5, "Format: https://www.debian.org/doc/packaging-manuals/
 * copyright-format/1.0/") is read: the License of the paragraph whose Files include "*"
 * (the package as a whole). Debian's short names are mapped to SPDX ids; a name with no SPDX
 * equivalent becomes LicenseRef-Debian-<name>. Free-form copyright files give NOASSERTION:
 * guessing from prose would put a claim in the SBOM that nobody checked.
 */

const require = createRequire(import.meta.url);
const SPDX_IDS: string[] = require('spdx-license-ids') as string[];
const BY_LOWER = new Map(SPDX_IDS.map((id) => [id.toLowerCase(), id]));

/** Debian short names (lower case) whose SPDX id is not simply the same name. */
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
  // The same id src/supply gives public-domain code, so reports group them together.
  'public-domain': 'LicenseRef-public-domain',
  pd: 'LicenseRef-public-domain',
};

/** GNU family names: "GPL-2" -> GPL-2.0-only, "GPL-2+" -> GPL-2.0-or-later, "LGPL-2.1+" -> LGPL-2.1-or-later. */
const GNU = /^(a?gpl|lgpl|gfdl)-(\d)(?:\.(\d))?(\+?)$/;

export function debianLicenseToSpdx(name: string): string {
  const trimmed = name.trim();
  const lower = trimmed.toLowerCase();
  const gnu = GNU.exec(lower);
  if (gnu) {
    const [, family, major, minor, plus] = gnu;
    const id = `${family!.toUpperCase()}-${major}.${minor ?? '0'}-${plus ? 'or-later' : 'only'}`;
    if (BY_LOWER.has(id.toLowerCase())) return BY_LOWER.get(id.toLowerCase())!;
  }
  const mapped = DEBIAN_NAMES[lower] ?? BY_LOWER.get(lower);
  if (mapped) return mapped;
  if (lower.endsWith('+')) {
    const later = BY_LOWER.get(`${lower.slice(0, -1)}-or-later`) ?? (BY_LOWER.has(lower.slice(0, -1)) ? `${BY_LOWER.get(lower.slice(0, -1))}+` : undefined);
    if (later) return later;
  }
  return `LicenseRef-Debian-${trimmed.replace(/\+$/, '-or-later').replace(/[^A-Za-z0-9.-]+/g, '-').replace(/-{2,}/g, '-').replace(/^-+|-+$/g, '') || 'unknown'}`;
}

/**
 * Debian's License expression ("GPL-2+ or Artistic", "BSD-3-clause and Expat",
 * "GPL-2+ with OpenSSL exception") to SPDX. Commas bind loosest (as DEP-5 says), then "or",
 * then "and". Exceptions become a LicenseRef of the whole term: SPDX's exception list does
 * not cover Debian's free-form ones.
 */
export function debianExpressionToSpdx(expression: string): string {
  const groups = expression
    .split(',')
    .map((g) => g.trim().replace(/^and\s+/i, ''))
    .filter((g) => g.length > 0);
  const converted = groups.map((group) => {
    const alternatives = group.split(/\s+or\s+/i).map((alt) =>
      alt
        .split(/\s+and\s+/i)
        .map((term) => termToSpdx(term.trim()))
        .join(' AND '),
    );
    return alternatives.length > 1 ? alternatives.map((a) => (a.includes(' AND ') ? `(${a})` : a)).join(' OR ') : alternatives[0]!;
  });
  const spdx = converted.length > 1 ? converted.map((c) => (c.includes(' OR ') ? `(${c})` : c)).join(' AND ') : (converted[0] ?? 'NOASSERTION');
  return invalidSpdxIds(spdx) === undefined ? spdx : 'NOASSERTION';
}

/** SPDX exceptions for Debian's "with X exception" wording; others make the whole term a LicenseRef. */
const EXCEPTIONS: Record<string, string> = {
  'gcc-runtime': 'GCC-exception-3.1',
  'gcc-runtime-library': 'GCC-exception-3.1',
  classpath: 'Classpath-exception-2.0',
  'autoconf-3': 'Autoconf-exception-3.0',
  libtool: 'Libtool-exception',
  font: 'Font-exception-2.0',
};

function termToSpdx(term: string): string {
  const withException = /^(\S+)\s+with\s+(.+?)(?:\s+exception)?$/i.exec(term);
  if (!withException) return debianLicenseToSpdx(term.replace(/\s+/g, '-'));
  const base = debianLicenseToSpdx(withException[1]!);
  const exception = EXCEPTIONS[withException[2]!.toLowerCase().replace(/\s+/g, '-')];
  if (exception && !base.startsWith('LicenseRef-')) return `${base} WITH ${exception}`;
  return debianLicenseToSpdx(`${withException[1]!.replace(/\+$/, '-or-later')}-with-${withException[2]!}-exception`.replace(/\s+/g, '-'));
}

/**
 * The SPDX expression for a copyright file's text, or NOASSERTION when it is not
 * machine-readable (see packageLicense for the fallback on free-form files).
 */
export function licenseFromCopyright(text: string | undefined): string {
  if (!text) return 'NOASSERTION';
  const paragraphs = parseAptStanzas(text);
  const header = paragraphs[0];
  if (!header || !/copyright-format|dep5/i.test(header.Format ?? header['Format-Specification'] ?? '')) return 'NOASSERTION';
  const whole = paragraphs.find((p) => (p.Files ?? '').split(/\s+/).includes('*'));
  const license = (whole?.License ?? header.License ?? '').split('\n')[0]!.trim();
  return license === '' ? 'NOASSERTION' : debianExpressionToSpdx(license);
}

/**
 * A package's license: the DEP-5 reading above, else src/supply's reading of free-form files
 * (a few source packages it knows, such as glibc and gcc, and the usual GNU statement).
 */
export function packageLicense(sourcePackage: string, copyright: string | undefined): string {
  const dep5 = licenseFromCopyright(copyright);
  return dep5 !== 'NOASSERTION' ? dep5 : debianLicense(sourcePackage, copyright).license;
}
