import { DEFAULT_ARCH, getArch } from '../arch.js';
import { posix } from 'node:path';
import { KilnError, ErrorCodes } from '../errors.js';
import { ComponentSchema, type Component, type ComponentInput } from '../image/components.js';
import type { ImageManifest } from '../image/manifest.js';
import { KILN_VERSION } from '../version.js';
import { copyrightFile, hostDistro, installedPackages, packageOwning, type DpkgPackage } from './dpkg.js';
import { debianLicense } from './debian-license.js';
import { checkLicense, NOASSERTION } from './licenses.js';

/**
 * The inventory of an image: one Component per thing inside it, computed at bake from the
 * bake's inputs. The kernel (with its modules), the init shim and the musl it is linked with,
 * the app, every shared library and the ELF interpreter (by the Debian package that ships the
 * host file), data files, and the package components the package flows pass in. Sorted by id,
 * so equal inputs give an equal inventory (it is part of the image cache key).
 */

/** kiln's own license (package.json); the init shim is kiln's code. */
export const KILN_LICENSE = 'Apache-2.0';
/** The Debian package whose static libc the shim links (musl-gcc from musl-tools uses musl-dev's libc.a). */
const SHIM_LIBC_PACKAGE = 'musl-dev';

export interface AppFacts {
  name?: string;
  version?: string;
  license?: string;
}

/** A host file going into the image, as the inventory reads it. */
export interface InventoryFile {
  hostPath: string;
  guestPath: string;
  sha256: string;
}

/**
 * What the inventory reads of a bake's inputs (src/bake/types.ts BakeInputs has all of it):
 * declared here, so the supply chain does not depend on bake, which calls it.
 */
export interface InventoryInputs {
  kernel: Pick<ImageManifest['kernel'], 'source' | 'release' | 'sha256'>;
  modules: readonly { guestPath: string }[];
  shim: { guestPath: string; sha256: string };
  app: InventoryFile;
  interpreter?: InventoryFile;
  libraries: readonly (InventoryFile & { soname: string; neededBy: readonly string[] })[];
  /** Other programs the image carries beside the app (bake --program). */
  programs?: readonly InventoryFile[];
  data: readonly { kind: 'file' | 'dir' | 'symlink'; guestPath: string }[];
  target?: { arch?: string };
}

export interface Inventory {
  components: Component[];
  distro?: { id: string; versionId?: string; codename?: string };
}

export interface InventoryOptions {
  /** kiln's cache directory, where the index of dpkg's file lists is remembered between bakes. */
  cacheDir?: string;
}

export async function takeInventory(inputs: InventoryInputs, requested: ComponentInput[] = [], app: AppFacts = {}, options: InventoryOptions = {}): Promise<Inventory> {
  const given = requested.map((input) => ComponentSchema.parse(input));
  const claimed = new Map<string, string>(); // guest path → id of a requested component
  for (const component of given) for (const file of component.files) claimed.set(file, component.id);

  // Host files not claimed by a package flow are looked up in dpkg's database.
  const shipped: InventoryFile[] = [...(inputs.interpreter ? [inputs.interpreter] : []), ...(inputs.programs ?? []), ...inputs.libraries];
  const hostFiles: InventoryFile[] = [inputs.app, ...shipped].filter((file) => !claimed.has(file.guestPath));
  const owners = new Map<string, string>(); // guest path → Debian package
  await Promise.all(
    hostFiles.map(async (file) => {
      const owner = await packageOwning(file.hostPath, options.cacheDir ? { cacheDir: options.cacheDir } : {});
      if (owner) owners.set(file.guestPath, owner);
    }),
  );
  const packages = await installedPackages([...new Set([...owners.values(), SHIM_LIBC_PACKAGE])].sort());
  const byId = new Map<string, Component>();
  const add = (component: Component) => {
    const existing = byId.get(component.id);
    if (!existing) byId.set(component.id, component);
    else byId.set(component.id, { ...existing, files: [...new Set([...existing.files, ...component.files])].sort(), dependsOn: [...new Set([...existing.dependsOn, ...component.dependsOn])].sort() });
  };
  for (const component of given) add(component);

  add(kernelComponent(inputs));
  const musl = packages.get(SHIM_LIBC_PACKAGE);
  if (musl) add(await debianComponent(musl, []));
  add({
    id: 'shim',
    kind: 'shim',
    name: 'kiln-init',
    version: KILN_VERSION,
    license: KILN_LICENSE,
    files: [inputs.shim.guestPath],
    dependsOn: musl ? [`debian:${SHIM_LIBC_PACKAGE}`] : [],
    sha256: inputs.shim.sha256,
  });

  // Libraries, other programs and the interpreter, grouped by the package that ships them.
  const filesByPackage = new Map<string, string[]>();
  for (const file of shipped) {
    const owner = owners.get(file.guestPath);
    if (!owner || claimed.has(file.guestPath)) continue;
    filesByPackage.set(owner, [...(filesByPackage.get(owner) ?? []), file.guestPath]);
  }
  for (const [name, files] of filesByPackage) {
    const facts = packages.get(name);
    if (facts) add(await debianComponent(facts, files));
  }

  add(await appComponent(inputs, owners, packages, claimed, given, app));
  const unowned = shipped.filter((file) => !claimed.has(file.guestPath) && !packages.has(owners.get(file.guestPath) ?? ''));
  if (unowned.length > 0) add({ id: 'libraries', kind: 'data', name: 'unpackaged libraries', license: NOASSERTION, files: unowned.map((file) => file.guestPath).sort(), dependsOn: [] });
  // Directories carry no content of their own; files and links not claimed by a package are data.
  const data = inputs.data.filter((item) => item.kind !== 'dir' && !claimed.has(item.guestPath));
  if (data.length > 0) add({ id: 'data', kind: 'data', name: 'data files', license: NOASSERTION, files: data.map((item) => item.guestPath).sort(), dependsOn: [] });

  linkLibraries(byId, inputs, claimed, owners);
  const components = [...byId.values()].map((component) => ({ ...component, files: [...component.files].sort(), dependsOn: [...component.dependsOn].filter((id) => id !== component.id && byId.has(id)).sort() }));
  components.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  checkComponentLicenses(components);
  const distro = await hostDistro();
  return { components, ...(distro ? { distro } : {}) };
}

function kernelComponent(inputs: InventoryInputs): Component {
  const { kernel } = inputs;
  const files = inputs.modules.map((module) => module.guestPath).sort();
  if (kernel.source.kind === 'debian') {
    return {
      id: 'kernel',
      kind: 'kernel',
      name: kernel.source.package,
      version: kernel.source.version,
      license: 'GPL-2.0-only',
      // Debian's cloud kernel images are built (and signed) from the `linux` source package at
      // the same version; OSV's Debian entries name `linux`.
      debian: { package: kernel.source.package, version: kernel.source.version, architecture: getArch(inputs.target?.arch ?? DEFAULT_ARCH).dpkgArch, source: { package: 'linux', version: kernel.source.version } },
      files,
      dependsOn: [],
      sha256: kernel.source.sha256,
    };
  }
  return { id: 'kernel', kind: 'kernel', name: 'linux', version: kernel.release, license: 'GPL-2.0-only', files, dependsOn: [], sha256: kernel.sha256 };
}

async function debianComponent(facts: DpkgPackage, files: string[]): Promise<Component> {
  const copyright = await copyrightFile(facts.package);
  return {
    id: `debian:${facts.package}`,
    kind: 'debian-package',
    name: facts.package,
    version: facts.version,
    license: debianLicense(facts.source.package, copyright?.text).license,
    debian: { package: facts.package, version: facts.version, architecture: facts.architecture, source: facts.source },
    files: [...files].sort(),
    dependsOn: [],
  };
}

/**
 * The app: a package flow's component when one claims its file, a Debian package when the host
 * file belongs to one (kiln bake /usr/bin/ls), else named after its file.
 */
async function appComponent(
  inputs: InventoryInputs,
  owners: Map<string, string>,
  packages: Map<string, DpkgPackage>,
  claimed: Map<string, string>,
  given: Component[],
  facts: AppFacts,
): Promise<Component> {
  const guestPath = inputs.app.guestPath;
  const base = { id: 'app', kind: 'app' as const, name: facts.name ?? posix.basename(guestPath), files: [guestPath], dependsOn: [] as string[], sha256: inputs.app.sha256 };
  const owner = claimed.get(guestPath);
  if (owner) {
    const pkg = given.find((component) => component.id === owner)!;
    return { ...base, version: facts.version ?? pkg.version, license: facts.license ?? pkg.license ?? NOASSERTION, dependsOn: [owner] };
  }
  const debianName = owners.get(guestPath);
  const debian = debianName ? packages.get(debianName) : undefined;
  if (debian) {
    const record = await debianComponent(debian, []);
    return { ...base, version: facts.version ?? debian.version, license: facts.license ?? record.license, ...(record.debian ? { debian: record.debian } : {}) };
  }
  return { ...base, ...(facts.version ? { version: facts.version } : {}), license: facts.license ?? NOASSERTION };
}

/** Edges from each library's needers (the app or another library) to the component that ships it. */
function linkLibraries(byId: Map<string, Component>, inputs: InventoryInputs, claimed: Map<string, string>, owners: Map<string, string>): void {
  const componentOf = (guestPath: string): string | undefined => {
    if (guestPath === inputs.app.guestPath) return 'app';
    const claim = claimed.get(guestPath);
    if (claim) return claim;
    const owner = owners.get(guestPath);
    if (owner && byId.has(`debian:${owner}`)) return `debian:${owner}`;
    return byId.has('libraries') ? 'libraries' : undefined;
  };
  // neededBy holds loader paths (/lib/x86_64-linux-gnu/libc.so.6); file names tie them to guest paths.
  const byName = new Map<string, string>();
  byName.set(posix.basename(inputs.app.guestPath), inputs.app.guestPath);
  for (const library of inputs.libraries) {
    byName.set(library.soname, library.guestPath);
    byName.set(posix.basename(library.guestPath), library.guestPath);
  }
  const edge = (from: string | undefined, to: string | undefined) => {
    if (!from || !to || from === to) return;
    const component = byId.get(from);
    if (component && !component.dependsOn.includes(to)) byId.set(from, { ...component, dependsOn: [...component.dependsOn, to] });
  };
  for (const library of inputs.libraries) {
    const target = componentOf(library.guestPath);
    for (const needer of library.neededBy) {
      const path = byName.get(posix.basename(needer)) ?? needer;
      edge(componentOf(path), target);
    }
  }
  if (inputs.interpreter) edge('app', componentOf(inputs.interpreter.guestPath));
}

/** Every license must be valid SPDX; package flows validate theirs, this catches the rest. */
function checkComponentLicenses(components: Component[]): void {
  const problems = components.flatMap((component) => {
    if (component.license === undefined) return [];
    const check = checkLicense(component.license);
    return check.valid ? [] : [`${component.id}: ${check.message}`];
  });
  if (problems.length > 0) {
    throw new KilnError(ErrorCodes.LICENSE_UNKNOWN, `${problems.length} component${problems.length === 1 ? ' has' : 's have'} a license that is not valid SPDX`, {
      details: problems,
      hint: 'use ids from https://spdx.org/licenses/ (LicenseRef-NAME for others), or NOASSERTION when unknown',
    });
  }
}
