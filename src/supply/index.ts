import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { Component } from '../image/components.js';
import { loadImage, IMAGE_MANIFEST_FILE, type LoadedImage } from '../image/manifest.js';
import { sha256 } from '../util/fs.js';
import { auditComponents, findingsAtOrAbove, type AuditFinding, type AuditReport } from './audit.js';
import { warnAboutDatabase } from './bake.js';
import { licenseReport, writeLicenseBundle, type BundleResult, type LicenseReport } from './bundle.js';
import type { Severity } from './cvss.js';
import { lockComponents } from './lockfile.js';
import { loadAdvisories } from './osv.js';
import { creationTime, cycloneDx, requireComponents, spdx, type SbomFormat } from './sbom.js';

/**
 * The supply chain of images: licenses, advisories and SBOMs (issue #7). Everything works
 * from an image directory alone (its image.json lists the components; the SBOM beside it is
 * pinned by hash), so audits run offline with only an advisory database.
 */

export { takeInventory, KILN_LICENSE, type AppFacts, type Inventory, type InventoryOptions } from './inventory.js';
export { dpkgOwnerIndex, dpkgFingerprint, staleDpkgMemos, type OwnerIndex, type DpkgIndexOptions } from './dpkg-index.js';
export { bakeInventory, enforceLicensePolicy, enforceAudit, type SupplyRequest } from './bake.js';
export { checkLicense, policyViolations, isCopyleft, NOASSERTION, type LicensePolicy, type LicenseCheck } from './licenses.js';
export { debianLicense, dep5License, debianExpressionToSpdx, debianLicenseToSpdx, licenseFromCopyright, packageLicense, statementLicense, type DebianLicense } from './debian-license.js';
export { compareDebianVersions, compareSemver, isDebianVersion } from './versions.js';
export { cvss3BaseScore, severityOfScore, severityOfLabel, severityAtLeast, SEVERITIES, type Severity } from './cvss.js';
export { loadAdvisories, isAffected, advisorySeverity, ecosystemOf, type AdvisoryDatabase, type Advisory } from './osv.js';
export { auditComponents, findingsAtOrAbove, parseSeverity, type AuditFinding, type AuditReport } from './audit.js';
export { licenseReport, writeLicenseBundle, sourceOffer, type LicenseReport, type LicenseEntry, type BundleResult } from './bundle.js';
export { cycloneDx, spdx, purlOf, imageIdentity, imageSbom, creationTime, IMAGE_SBOM_FILE, type SbomFormat } from './sbom.js';
export { lockComponents, LOCK_FILE } from './lockfile.js';
export { SUPPLY_FORMAT } from './format.js';
export { packageOwning, installedPackages, copyrightFile, hostDistro, type DpkgPackage } from './dpkg.js';

/** An image's components; the SBOM file, when the manifest names one, must still match its hash. */
export async function imageComponents(dir: string): Promise<{ image: LoadedImage; components: Component[] }> {
  const image = await loadImage(dir);
  const components = requireComponents(image.manifest, dir);
  const sbom = image.manifest.sbom;
  if (sbom) {
    const text = await readFile(join(dir, sbom.file), 'utf8').catch(() => undefined);
    if (text === undefined || sha256(text) !== sbom.sha256) {
      throw new KilnError(ErrorCodes.IMAGE_NO_INVENTORY, `${join(dir, sbom.file)} ${text === undefined ? 'is missing' : 'does not match the sha256 in image.json'}`, {
        hint: 'the image was changed after it was baked; bake it again',
      });
    }
  }
  return { image, components };
}

export interface AuditRequest {
  /** An image directory, a kiln.lock, or a project directory holding one. */
  target: string;
  db: string;
  severity?: Severity;
}

export interface AuditResult extends AuditReport {
  target: string;
  kind: 'image' | 'lockfile';
  severity: Severity;
  /** The findings at or above `severity`: non-empty means the audit failed. */
  failing: AuditFinding[];
}

export async function audit(ctx: Context, request: AuditRequest): Promise<AuditResult> {
  const isImage = await stat(join(request.target, IMAGE_MANIFEST_FILE)).then(() => true, () => false);
  let components: Component[];
  let release: string | undefined;
  if (isImage) {
    const loaded = await imageComponents(request.target);
    components = loaded.components;
    release = loaded.image.manifest.distro?.versionId;
  } else if (basename(request.target).endsWith('.lock') || (await stat(join(request.target, 'kiln.lock')).then(() => true, () => false))) {
    components = await lockComponents(request.target);
  } else {
    // Neither: loadImage says precisely why (no image.json, not a directory, …).
    components = (await imageComponents(request.target)).components;
  }
  const db = await loadAdvisories(request.db, ctx.signal ? { signal: ctx.signal } : {});
  const report = auditComponents(components, db, release);
  warnAboutDatabase(ctx, report);
  const severity = request.severity ?? 'low';
  return { ...report, target: request.target, kind: isImage ? 'image' : 'lockfile', severity, failing: findingsAtOrAbove(report, severity) };
}

export async function imageLicenses(dir: string, bundleDir?: string): Promise<LicenseReport & { bundle?: BundleResult }> {
  const { components } = await imageComponents(dir);
  const report = licenseReport(components);
  if (!bundleDir) return report;
  return { ...report, bundle: await writeLicenseBundle(report, components, bundleDir, basename(dir)) };
}

/** The SBOM document of an image in the asked format; SOURCE_DATE_EPOCH (from ctx.env) sets its time. */
export async function imageSbomDocument(ctx: Context, dir: string, format: SbomFormat): Promise<Record<string, unknown>> {
  const { image } = await imageComponents(dir);
  const created = creationTime(ctx.env);
  if (format === 'spdx') return spdx(image.manifest, dir, { created });
  return cycloneDx(image.manifest, dir, ctx.env['SOURCE_DATE_EPOCH'] ? { created } : {});
}
