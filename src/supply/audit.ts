import { KilnError, ErrorCodes } from '../errors.js';
import type { Component } from '../image/components.js';
import { severityAtLeast, type Severity } from './cvss.js';
import { advisorySeverity, ecosystemOf, fixedVersion, isAffected, type AdvisoryDatabase, type Ecosystem } from './osv.js';
import { compareDebianVersions, compareSemver } from './versions.js';

/**
 * Matching an image's (or a lockfile's) components against an advisory database. Each
 * component is audited in its own ecosystem: Debian packages (the kernel, libraries, Debian
 * inputs) by SOURCE package and version with Debian's ordering, kiln packages by name and
 * semver. Components with no ecosystem (the shim, a local app, data) are listed as not audited.
 */

export interface AuditFinding {
  component: string;
  ecosystem: Ecosystem;
  /** The package name the advisory names (a Debian source package, or a kiln package). */
  package: string;
  version: string;
  advisory: string;
  aliases: string[];
  summary?: string;
  severity: Severity | 'unknown';
  score?: number;
  fixed?: string;
  file: string;
}

export interface AuditReport {
  findings: AuditFinding[];
  /** Components that were matched against the database, and those that have no ecosystem. */
  audited: string[];
  notAudited: string[];
  advisories: number;
  files: number;
  problems: AdvisoryDatabase['problems'];
  unknownEcosystems: AdvisoryDatabase['unknownEcosystems'];
  withdrawn: number;
}

interface Auditable {
  ecosystem: Ecosystem;
  name: string;
  version: string;
}

function auditable(component: Component): Auditable | undefined {
  if (component.debian) return { ecosystem: 'Debian', name: component.debian.source.package, version: component.debian.source.version };
  if (component.kind === 'kiln-package' && component.version) return { ecosystem: 'kiln', name: component.name, version: component.version };
  return undefined;
}

/** `distroRelease` ("12") restricts "Debian:N" entries to the image's release; unknown matches every release. */
export function auditComponents(components: Component[], db: AdvisoryDatabase, distroRelease?: string): AuditReport {
  const report: AuditReport = { findings: [], audited: [], notAudited: [], advisories: db.advisories.length, files: db.files, problems: db.problems, unknownEcosystems: db.unknownEcosystems, withdrawn: db.withdrawn };
  for (const component of components) {
    const target = auditable(component);
    if (!target) {
      report.notAudited.push(component.id);
      continue;
    }
    report.audited.push(component.id);
    const compare = target.ecosystem === 'Debian' ? compareDebianVersions : compareSemver;
    for (const advisory of db.advisories) {
      for (const affected of advisory.affected ?? []) {
        const ecosystem = ecosystemOf(affected.package.ecosystem);
        if (!ecosystem || ecosystem.ecosystem !== target.ecosystem || affected.package.name !== target.name) continue;
        if (ecosystem.release && distroRelease && ecosystem.release !== distroRelease) continue;
        if (!isAffected(affected, target.version, compare)) continue;
        const severity = advisorySeverity(advisory, affected);
        const fixed = fixedVersion(affected, target.version, compare);
        report.findings.push({
          component: component.id,
          ecosystem: target.ecosystem,
          package: target.name,
          version: target.version,
          advisory: advisory.id,
          aliases: advisory.aliases ?? [],
          ...(advisory.summary ? { summary: advisory.summary } : {}),
          severity: severity.severity,
          ...(severity.score !== undefined ? { score: severity.score } : {}),
          ...(fixed ? { fixed } : {}),
          file: advisory.file,
        });
        break; // one finding per advisory and component, even if it lists several releases
      }
    }
  }
  report.findings.sort((a, b) => (a.component < b.component ? -1 : a.component > b.component ? 1 : a.advisory < b.advisory ? -1 : a.advisory > b.advisory ? 1 : 0));
  return report;
}

/** Findings at or above the threshold. A finding without a stated severity counts (fail safe). */
export function findingsAtOrAbove(report: AuditReport, threshold: Severity): AuditFinding[] {
  return report.findings.filter((finding) => finding.severity === 'unknown' || severityAtLeast(finding.severity, threshold));
}

export function parseSeverity(value: string): Severity {
  const word = value.toLowerCase();
  if (word === 'low' || word === 'medium' || word === 'high' || word === 'critical') return word;
  throw new KilnError(ErrorCodes.USAGE, `unknown severity "${value}"`, { hint: 'use low, medium, high or critical' });
}
