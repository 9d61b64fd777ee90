import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { ComponentInput, Component } from '../image/components.js';
import { auditComponents, findingsAtOrAbove, type AuditReport } from './audit.js';
import type { Severity } from './cvss.js';
import { takeInventory, type AppFacts, type Inventory, type InventoryInputs } from './inventory.js';
import { policyViolations, type LicensePolicy } from './licenses.js';
import { loadAdvisories } from './osv.js';

/** What a bake asks of the supply chain: facts about the app, a license policy, an audit. */
export interface SupplyRequest {
  app?: AppFacts;
  licensePolicy?: LicensePolicy;
  /** kiln bake --audit: refuse inputs with advisories at or above `severity` (default: low, i.e. any). */
  audit?: { db: string; severity?: Severity };
}

/** The bake step of the supply chain: inventory, then the policy and the audit on it. */
export async function bakeInventory(ctx: Context, inputs: InventoryInputs, requested: ComponentInput[], supply: SupplyRequest): Promise<Inventory> {
  ctx.reporter.emit({ type: 'step', step: 'inventory', message: 'listing components and their licenses' });
  const inventory = await takeInventory(inputs, requested, supply.app, { cacheDir: ctx.paths.cache });
  if (supply.licensePolicy) enforceLicensePolicy(inventory.components, supply.licensePolicy);
  if (supply.audit) {
    ctx.reporter.emit({ type: 'step', step: 'audit', message: `auditing components against ${supply.audit.db}` });
    const db = await loadAdvisories(supply.audit.db, ctx.signal ? { signal: ctx.signal } : {});
    const report = auditComponents(inventory.components, db, inventory.distro?.versionId);
    warnAboutDatabase(ctx, report);
    enforceAudit(report, supply.audit.severity ?? 'low');
  }
  return inventoryFields(inventory);
}

function inventoryFields(inventory: Inventory): Inventory {
  return { components: inventory.components, ...(inventory.distro ? { distro: inventory.distro } : {}) };
}

export function enforceLicensePolicy(components: Component[], policy: LicensePolicy): void {
  const denied = components.flatMap((component) => {
    const bad = policyViolations(component.license ?? 'NOASSERTION', policy);
    return bad.length > 0 ? [`${component.id} (${component.name}${component.version ? ` ${component.version}` : ''}): ${component.license ?? 'NOASSERTION'} — not allowed: ${bad.join(', ')}`] : [];
  });
  if (denied.length > 0) {
    throw new KilnError(ErrorCodes.LICENSE_DENIED, `the license policy denies ${denied.length} component${denied.length === 1 ? '' : 's'}`, {
      details: denied,
      hint: 'change the [licenses] allow/deny lists, or replace the components',
    });
  }
}

export function enforceAudit(report: AuditReport, severity: Severity): void {
  const findings = findingsAtOrAbove(report, severity);
  if (findings.length === 0) return;
  throw new KilnError(ErrorCodes.AUDIT_FINDINGS, `${findings.length} known vulnerabilit${findings.length === 1 ? 'y' : 'ies'} at or above ${severity} in the inputs`, {
    details: findings.map((f) => `${f.advisory} (${f.severity}${f.score !== undefined ? ` ${f.score}` : ''}): ${f.component} — ${f.ecosystem} ${f.package} ${f.version}${f.fixed ? `, fixed in ${f.fixed}` : ''}`),
    hint: 'upgrade the affected packages, or raise --severity',
  });
}

/** Malformed advisory files and unknown ecosystems are never dropped silently. */
export function warnAboutDatabase(ctx: Context, report: AuditReport): void {
  for (const problem of report.problems) ctx.reporter.emit({ type: 'warning', code: ErrorCodes.ADVISORY_INVALID, message: `${problem.file}: ${problem.message}` });
  const unknown = Object.entries(report.unknownEcosystems);
  if (unknown.length > 0) {
    ctx.reporter.emit({ type: 'warning', code: ErrorCodes.ADVISORY_ECOSYSTEM_UNKNOWN, message: `advisories for ecosystems kiln does not audit: ${unknown.map(([name, count]) => `${name} (${count})`).join(', ')}` });
  }
}
