import { readFileSync } from 'node:fs';
import { writeFileAtomically } from '../../util/fs.js';
import type { Command } from 'commander';
import { parse as parseToml } from 'smol-toml';
import type { Context } from '../../context.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import { audit, imageLicenses, imageSbomDocument, parseSeverity, checkLicense, type LicensePolicy, type SupplyRequest } from '../../supply/index.js';
import { collect } from '../parse.js';
import type { OutputMode } from '../render.js';

/** `kiln licenses`, `kiln audit`, `kiln sbom`, and the supply-chain flags of `kiln bake`. */

export async function licensesCommand(ctx: Context, image: string, options: { bundle?: string }, mode: OutputMode): Promise<number> {
  const report = await imageLicenses(image, options.bundle);
  const unknown = [...report.invalid.map((entry) => `${entry.id}: ${entry.message}`), ...report.unknown.map((id) => `${id}: NOASSERTION (license not known)`)];
  if (unknown.length > 0) ctx.reporter.emit({ type: 'warning', code: ErrorCodes.LICENSE_UNKNOWN, message: `licenses not known for ${unknown.length} component${unknown.length === 1 ? '' : 's'}: ${unknown.join('; ')}` });
  if (mode === 'json') {
    process.stdout.write(JSON.stringify(report) + '\n');
    return 0;
  }
  const width = Math.max(...report.components.map((entry) => entry.id.length), 9);
  for (const entry of report.components) {
    process.stdout.write(`${entry.id.padEnd(width)}  ${`${entry.name}${entry.version ? ` ${entry.version}` : ''}`.padEnd(44)}  ${entry.license}${entry.copyleft ? '  (copyleft)' : ''}\n`);
  }
  if (report.bundle) {
    ctx.reporter.emit({ type: 'info', message: `wrote ${report.bundle.texts.length} license texts, ${report.bundle.copyrightFiles.length} copyright files and ${report.bundle.sourceOffer} to ${report.bundle.dir}` });
  }
  return 0;
}

export async function auditCommand(ctx: Context, target: string, options: { db?: string; severity: string }, mode: OutputMode): Promise<number> {
  const db = options.db ?? ctx.env['KILN_ADVISORIES'];
  if (!db) throw new KilnError(ErrorCodes.USAGE, 'no advisory database given', { hint: 'kiln audit IMAGE --db DIR|URL (OSV JSON files), or set KILN_ADVISORIES' });
  const result = await audit(ctx, { target, db, severity: parseSeverity(options.severity) });
  if (mode === 'json') process.stdout.write(JSON.stringify(result) + '\n');
  else {
    for (const f of result.findings) {
      process.stdout.write(`${f.advisory}  ${f.severity}${f.score !== undefined ? ` ${f.score}` : ''}  ${f.component}  ${f.ecosystem} ${f.package} ${f.version}${f.fixed ? `  fixed in ${f.fixed}` : ''}${f.summary ? `  ${f.summary}` : ''}\n`);
    }
    const unknown = Object.entries(result.unknownEcosystems);
    process.stderr.write(
      `kiln: audited ${result.audited.length} components against ${result.advisories} advisories from ${result.files} files: ${result.findings.length} finding${result.findings.length === 1 ? '' : 's'}, ${result.failing.length} at or above ${result.severity}` +
        `${result.problems.length > 0 ? `; ${result.problems.length} malformed` : ''}${unknown.length > 0 ? `; ${unknown.reduce((n, [, c]) => n + c, 0)} for unknown ecosystems` : ''}\n`,
    );
  }
  return result.failing.length > 0 ? 1 : 0;
}

export async function sbomCommand(ctx: Context, image: string, options: { format: string; output?: string }): Promise<number> {
  if (options.format !== 'cyclonedx' && options.format !== 'spdx') {
    throw new KilnError(ErrorCodes.USAGE, `unknown SBOM format "${options.format}"`, { hint: 'use --format cyclonedx or --format spdx' });
  }
  const text = JSON.stringify(await imageSbomDocument(ctx, image, options.format), null, 2) + '\n';
  if (options.output) await writeFileAtomically(options.output, text);
  else process.stdout.write(text);
  return 0;
}

/** The supply-chain flags of bake and run. */
export function addSupplyOptions(command: Command): Command {
  return command
    .option('--audit', 'refuse to bake inputs with known vulnerabilities (needs --advisories or KILN_ADVISORIES)')
    .option('--advisories <dir|url>', 'OSV advisory database for --audit')
    .option('--audit-severity <level>', 'with --audit: refuse findings at or above low, medium, high or critical', 'low')
    .option('--license-policy <file>', 'TOML or JSON with allow = [...] and deny = [...] (or a kiln.toml with [licenses])')
    .option('--allow-license <id>', 'allow this license id, "GPL-*" globs too (repeatable; makes an allow list)', collect, [])
    .option('--deny-license <id>', 'deny this license id (repeatable)', collect, [])
    .option('--app-license <spdx>', "the app's own license (default: its package's, else NOASSERTION)")
    .option('--app-version <version>', "the app's version, for licenses, audits and SBOMs");
}

export interface RawSupplyOptions {
  audit?: boolean;
  advisories?: string;
  auditSeverity?: string;
  licensePolicy?: string;
  allowLicense?: string[];
  denyLicense?: string[];
  appLicense?: string;
  appVersion?: string;
}

export function toSupplyRequest(options: RawSupplyOptions, env: NodeJS.ProcessEnv): SupplyRequest | undefined {
  const policy: LicensePolicy = options.licensePolicy ? readPolicy(options.licensePolicy) : {};
  if (options.allowLicense?.length) policy.allow = [...(policy.allow ?? []), ...options.allowLicense];
  if (options.denyLicense?.length) policy.deny = [...(policy.deny ?? []), ...options.denyLicense];
  if (options.appLicense) {
    const check = checkLicense(options.appLicense);
    if (!check.valid) throw new KilnError(ErrorCodes.LICENSE_UNKNOWN, check.message, { hint: 'use ids from https://spdx.org/licenses/ (LicenseRef-NAME for others)' });
  }
  const db = options.advisories ?? env['KILN_ADVISORIES'];
  if (options.audit && !db) throw new KilnError(ErrorCodes.USAGE, '--audit needs an advisory database', { hint: 'add --advisories DIR|URL (OSV JSON files), or set KILN_ADVISORIES' });
  const app = { ...(options.appLicense ? { license: options.appLicense } : {}), ...(options.appVersion ? { version: options.appVersion } : {}) };
  const request: SupplyRequest = {
    ...(Object.keys(app).length > 0 ? { app } : {}),
    ...(policy.allow || policy.deny ? { licensePolicy: policy } : {}),
    ...(options.audit && db ? { audit: { db, severity: parseSeverity(options.auditSeverity ?? 'low') } } : {}),
  };
  return Object.keys(request).length > 0 ? request : undefined;
}

function readPolicy(file: string): LicensePolicy {
  let data: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    data = text.trimStart().startsWith('{') ? JSON.parse(text) : parseToml(text);
  } catch (error) {
    throw new KilnError(ErrorCodes.CONFIG_INVALID, `cannot read the license policy ${file}: ${(error as Error).message}`, { cause: error });
  }
  const table = (data as { licenses?: unknown }).licenses ?? data;
  const list = (value: unknown, key: string): string[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw new KilnError(ErrorCodes.CONFIG_INVALID, `${file}: ${key} must be a list of license ids`);
    return value as string[];
  };
  const allow = list((table as { allow?: unknown }).allow, 'allow');
  const deny = list((table as { deny?: unknown }).deny, 'deny');
  return { ...(allow ? { allow } : {}), ...(deny ? { deny } : {}) };
}
