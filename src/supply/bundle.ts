import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Component } from '../image/components.js';
import { copyrightFile } from './dpkg.js';
import { checkLicense, isCopyleft, NOASSERTION } from './licenses.js';

/**
 * `kiln licenses`: every component with its license, and a bundle for distributors: the
 * license texts (SPDX's official texts; Debian packages' own copyright files where the host
 * has them) and a written source offer naming each copyleft component and how to get its source.
 */

export interface LicenseEntry {
  id: string;
  name: string;
  version?: string;
  license: string;
  /** License ids in the expression (NOASSERTION when unknown). */
  ids: string[];
  copyleft: boolean;
  /** Where the corresponding source comes from, for copyleft components. */
  source?: string;
}

export interface LicenseReport {
  components: LicenseEntry[];
  /** Components whose license is not known (NOASSERTION). */
  unknown: string[];
  /** Components whose expression is not valid SPDX, with the parser's message. */
  invalid: { id: string; message: string }[];
}

export function licenseReport(components: Component[]): LicenseReport {
  const report: LicenseReport = { components: [], unknown: [], invalid: [] };
  for (const component of components) {
    const license = component.license ?? NOASSERTION;
    const check = checkLicense(license);
    if (!check.valid) report.invalid.push({ id: component.id, message: check.message });
    if (license === NOASSERTION) report.unknown.push(component.id);
    const copyleft = isCopyleft(license);
    report.components.push({
      id: component.id,
      name: component.name,
      ...(component.version ? { version: component.version } : {}),
      license,
      ids: check.valid ? check.ids : [],
      copyleft,
      ...(copyleft ? { source: sourceOf(component) } : {}),
    });
  }
  return report;
}

function sourceOf(component: Component): string {
  if (component.debian) {
    const { package: name, version } = component.debian.source;
    return `Debian source package ${name} ${version}: apt-get source ${name}=${version} (older versions: Debian's snapshot archive)`;
  }
  if (component.kind === 'kiln-package') return `kiln package ${component.name} ${component.version ?? ''}: its recipe's pinned sources (kiln build fetches them; kiln.lock has their sha256)`.replace(' :', ':');
  return 'from the distributor of this image, on request';
}

type LicenseTexts = Record<string, { name: string; licenseText: string }>;

export interface BundleResult {
  dir: string;
  texts: string[];
  copyrightFiles: string[];
  /** License ids with no text available (LicenseRef-*, unknown): named in the README instead. */
  missing: string[];
  sourceOffer: string;
}

/** Writes DIR/licenses/<id>.txt, DIR/copyright/<package>, DIR/SOURCE-OFFER.txt and DIR/COMPONENTS.txt. */
export async function writeLicenseBundle(report: LicenseReport, components: Component[], dir: string, imageName: string): Promise<BundleResult> {
  const texts = createRequire(import.meta.url)('spdx-license-list/full') as LicenseTexts;
  await mkdir(join(dir, 'licenses'), { recursive: true });
  await mkdir(join(dir, 'copyright'), { recursive: true });
  const ids = [...new Set(report.components.flatMap((entry) => entry.ids))].sort();
  const written: string[] = [];
  const missing: string[] = [];
  for (const id of ids) {
    const bare = id.endsWith('+') ? id.slice(0, -1) : id;
    const text = texts[bare];
    if (!text) {
      if (id !== NOASSERTION && id !== 'NONE') missing.push(id);
      continue;
    }
    await writeFile(join(dir, 'licenses', `${bare}.txt`), `${text.name} (${bare})\n\n${text.licenseText}\n`);
    written.push(`licenses/${bare}.txt`);
  }
  const copyrightFiles: string[] = [];
  for (const component of components) {
    if (!component.debian) continue;
    const file = await copyrightFile(component.debian.package);
    if (!file) continue;
    await writeFile(join(dir, 'copyright', component.debian.package), file.text);
    copyrightFiles.push(`copyright/${component.debian.package}`);
  }
  const offer = sourceOffer(report, imageName);
  await writeFile(join(dir, 'SOURCE-OFFER.txt'), offer);
  await writeFile(join(dir, 'COMPONENTS.txt'), componentList(report, missing));
  return { dir, texts: [...new Set(written)], copyrightFiles: copyrightFiles.sort(), missing, sourceOffer: 'SOURCE-OFFER.txt' };
}

export function sourceOffer(report: LicenseReport, imageName: string): string {
  const copyleft = report.components.filter((entry) => entry.copyleft);
  const lines = [
    `Written offer for source code: ${imageName}`,
    '',
    'The following components of this image are distributed under licenses that require the',
    'corresponding source code to be made available (GPL, LGPL and other copyleft licenses).',
    'For at least three years from the date you received this image, the complete corresponding',
    'source code of each is available as stated below, at no more than the cost of providing it.',
    '',
  ];
  if (copyleft.length === 0) lines.push('(no component of this image is under a copyleft license)', '');
  for (const entry of copyleft) {
    lines.push(`- ${entry.name}${entry.version ? ` ${entry.version}` : ''} (${entry.id})`, `  license: ${entry.license}`, `  source:  ${entry.source}`, '');
  }
  return lines.join('\n');
}

function componentList(report: LicenseReport, missing: string[]): string {
  const lines = report.components.map((entry) => `${entry.id}\t${entry.name}\t${entry.version ?? '-'}\t${entry.license}`);
  const notes = missing.length > 0 ? ['', `No standard text for: ${missing.join(', ')} (see the packages' copyright files in copyright/).`] : [];
  return ['component\tname\tversion\tlicense', ...lines, ...notes, ''].join('\n');
}
