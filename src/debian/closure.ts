import { KilnError, ErrorCodes } from '../errors.js';
import { compareDebianVersions } from '../components/debian-version.js';
import { formatAlternative, formatClause, parseProvides, parseRelations, versionSatisfies, type Alternative, type Clause } from './relations.js';
import type { AptStanza } from '../components/apt.js';
import type { DebianLockEntry } from './types.js';

/**
 * The pure half of closure resolution: given what apt's lists offer (one candidate per
 * package, plus other versions when asked), choose exactly one version of each package the
 * root needs through Depends and Pre-Depends. Deterministic: clauses are visited breadth
 * first in field order, alternatives in their written order, virtual packages' providers by
 * a fixed rule. No Recommends or Suggests (apt's --no-install-recommends).
 */

export interface AvailablePackage extends DebianLockEntry {
  depends: Clause[];
  provides: { name: string; version?: string }[];
  priority: string;
}

/**
 * Packages whose only job on a Debian system is to serve maintainer scripts or an init
 * system. kiln never runs preinst/postinst/prerm scripts and its init starts the program
 * itself, so nothing they ship is reached at run time:
 * - debconf, debconf-2.0, cdebconf: configuration questions asked by maintainer scripts.
 * - adduser: creates system users and groups from postinst (kiln images run as root).
 * - init-system-helpers, lsb-base, sysvinit-utils: systemd/sysvinit glue (deb-systemd-helper,
 *   invoke-rc.d, /lib/lsb/init-functions) for services kiln does not start that way.
 * - dpkg, install-info, ucf: package database, info directory and conffile bookkeeping.
 * - usrmerge, usr-is-merged: convert the host's / to merged-/usr; a staging root has no / to convert.
 * A clause is dropped when any of its alternatives is one of these (e.g. "debconf | debconf-2.0").
 */
export const INSTALL_ONLY_PACKAGES: readonly string[] = [
  'adduser',
  'cdebconf',
  'debconf',
  'debconf-2.0',
  'dpkg',
  'init-system-helpers',
  'install-info',
  'lsb-base',
  'sysvinit-utils',
  'ucf',
  'usr-is-merged',
  'usrmerge',
];

export interface PackageUniverse {
  /** apt's candidate version of each real package. */
  candidates: Map<string, AvailablePackage>;
  /** Every version known (candidates included), for constraints the candidate does not meet. */
  versions: Map<string, AvailablePackage[]>;
}

export interface ClosureResult {
  packages: AvailablePackage[];
  /** Clauses skipped as install-only, "needer: clause", sorted. */
  dropped: string[];
  /** Which chosen package each chosen package was first pulled in by (the root maps to nothing). */
  pulledBy: Map<string, string>;
}

/** Turns an apt-cache show stanza into an AvailablePackage, or undefined when apt lacks its hash or file. */
export function availableFromStanza(stanza: AptStanza): AvailablePackage | undefined {
  const { Package: name, Version: version, Architecture: architecture, SHA256: sha256, Filename: filename } = stanza;
  if (!name || !version || !architecture || !filename || !sha256 || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  // "Source: name (version)" when the source version differs; just "name" otherwise; absent when equal to the package.
  const source = /^([^\s(]+)(?:\s*\(([^)]+)\))?/.exec(stanza.Source ?? '');
  return {
    package: name,
    version,
    architecture,
    sha256,
    size: Number(stanza.Size ?? 0),
    filename,
    source: { package: source?.[1] ?? name, version: source?.[2] ?? version },
    depends: [...parseRelations(stanza['Pre-Depends']), ...parseRelations(stanza.Depends)],
    provides: parseProvides(stanza.Provides),
    priority: stanza.Priority ?? 'optional',
  };
}

export function universeFrom(candidates: AvailablePackage[], others: AvailablePackage[] = []): PackageUniverse {
  const universe: PackageUniverse = { candidates: new Map(), versions: new Map() };
  for (const p of candidates) if (!universe.candidates.has(p.package)) universe.candidates.set(p.package, p);
  for (const p of [...candidates, ...others]) {
    const list = universe.versions.get(p.package) ?? [];
    if (!list.some((q) => q.version === p.version && q.architecture === p.architecture)) list.push(p);
    universe.versions.set(p.package, list);
  }
  return universe;
}

const PRIORITY_RANK: Record<string, number> = { required: 0, important: 1, standard: 2, optional: 3, extra: 4 };

export function resolveClosureIn(universe: PackageUniverse, root: AvailablePackage | readonly AvailablePackage[], drop: readonly string[] = INSTALL_ONLY_PACKAGES): ClosureResult {
  const dropSet = new Set(drop);
  // Several roots (a program and the packages an image wants beside it) share one closure.
  const roots = Array.isArray(root) ? [...(root as readonly AvailablePackage[])] : [root as AvailablePackage];
  const chosen = new Map<string, AvailablePackage>(roots.map((r) => [r.package, r]));
  const pulledBy = new Map<string, string>();
  const dropped = new Set<string>();
  const queue: AvailablePackage[] = [...roots];

  const meets = (p: AvailablePackage, a: Alternative): boolean =>
    (p.package === a.name && versionSatisfies(p.version, a.op, a.version)) ||
    // An unversioned Provides satisfies only unversioned dependencies (Policy 7.5).
    p.provides.some((v) => v.name === a.name && (!a.op || (v.version !== undefined && versionSatisfies(v.version, a.op, a.version))));

  const pick = (a: Alternative): AvailablePackage | undefined => {
    const real = universe.versions.get(a.name);
    if (real && real.length > 0) {
      const candidate = universe.candidates.get(a.name);
      if (candidate && meets(candidate, a)) return candidate;
      // apt would refuse here unless told a version; kiln takes the newest one that fits.
      return real.filter((p) => meets(p, a)).sort((x, y) => compareDebianVersions(y.version, x.version))[0];
    }
    // A virtual package: one of the candidates that provide it (already chosen first, then by priority and name).
    const providers = [...universe.candidates.values()].filter((p) => meets(p, a));
    providers.sort(
      (x, y) =>
        Number(chosen.has(y.package)) - Number(chosen.has(x.package)) ||
        (PRIORITY_RANK[x.priority] ?? 9) - (PRIORITY_RANK[y.priority] ?? 9) ||
        (x.package < y.package ? -1 : x.package > y.package ? 1 : 0),
    );
    return providers[0];
  };

  for (let i = 0; i < queue.length; i++) {
    const needer = queue[i]!;
    for (const clause of needer.depends) {
      if (clause.some((a) => dropSet.has(a.name))) {
        dropped.add(`${needer.package}: ${formatClause(clause)}`);
        continue;
      }
      if ([...chosen.values()].some((p) => clause.some((a) => meets(p, a)))) continue;
      let picked: AvailablePackage | undefined;
      for (const alternative of clause) {
        const candidate = pick(alternative);
        // A different version of a package already chosen cannot be installed beside it.
        if (candidate && !chosen.has(candidate.package)) {
          picked = candidate;
          break;
        }
      }
      if (!picked) throw unresolvable(needer, clause, chosen, pulledBy);
      chosen.set(picked.package, picked);
      pulledBy.set(picked.package, needer.package);
      queue.push(picked);
    }
  }
  const packages = [...chosen.values()].sort((a, b) => (a.package < b.package ? -1 : a.package > b.package ? 1 : 0));
  return { packages, dropped: [...dropped].sort(), pulledBy };
}

function unresolvable(needer: AvailablePackage, clause: Clause, chosen: Map<string, AvailablePackage>, pulledBy: Map<string, string>): KilnError {
  const chain: string[] = [];
  for (let name: string | undefined = needer.package; name !== undefined; name = pulledBy.get(name)) chain.push(`${name} ${chosen.get(name)?.version ?? ''}`.trim());
  const details = [`needed through: ${chain.reverse().join(' -> ')}`];
  for (const a of clause) {
    const have = chosen.get(a.name);
    details.push(have ? `${formatAlternative(a)}: ${a.name} ${have.version} is already chosen` : `${formatAlternative(a)}: no version in apt's lists fits`);
  }
  return new KilnError(ErrorCodes.DEBIAN_UNRESOLVABLE, `${needer.package} ${needer.version} depends on ${formatClause(clause)}, which apt's lists cannot satisfy`, {
    hint: 'run apt-get update, or ask for a version of the package whose dependencies the archive still has',
    details,
  });
}
