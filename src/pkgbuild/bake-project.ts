import { join, posix } from 'node:path';
import type { Context } from '../context.js';
import { bake, type BakeRequest, type BakeResult } from '../bake/index.js';
import type { DataFileRequest } from '../bake/data.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { LicensePolicy } from '../supply/licenses.js';
import type { ComponentInput } from '../image/components.js';
import { defaultApp, type Recipe } from '../packages/recipe.js';
import { buildProject, runtimeClosure, type BuildProjectOptions, type ProjectBuild } from './project.js';
import { exists } from '../util/fs.js';

/**
 * `kiln bake DIR` for a project: build it (src/pkgbuild/project.ts), then bake its app from the
 * install trees in the store. The app is kiln.toml's runtime.app (or its first install binary),
 * looked up in the project's own tree, then in its runtime dependencies' trees (so a project
 * can be "SQLite's shell, configured"), then in Debian packages' staging roots. Every runtime
 * package's install.files go in as data files, and every locked package is listed as a
 * component for licenses and SBOMs.
 */


interface Provider {
  name: string;
  recipe: Recipe;
  /** A store tree, or a Debian staging root (kind 'debian'). */
  root: string;
  kind: 'kiln' | 'debian';
}

export interface ProjectBakeRequest {
  request: BakeRequest;
  build: ProjectBuild;
}

/**
 * Builds the project and turns it into a BakeRequest. `base` carries what the command line
 * set (target, kernel, extra files, supply options); args/env given there replace the defaults.
 */
export async function projectBakeRequest(ctx: Context, dir: string, base: Omit<BakeRequest, 'appPath'>, options: BuildProjectOptions = {}): Promise<ProjectBakeRequest> {
  const build = await buildProject(ctx, dir, options);
  const { project, lock } = build;
  const manifest = project.manifest;
  const runtime = new Set(runtimeClosure(lock, Object.keys(lock.root.dependencies)));
  const providers: Provider[] = [];
  if (build.projectEntry) providers.push({ name: manifest.package.name, recipe: build.projectRecipe.recipe, root: build.projectEntry.tree, kind: 'kiln' });
  for (const pkg of build.packages) {
    if (!runtime.has(pkg.locked.name)) continue;
    if (pkg.entry) providers.push({ name: pkg.locked.name, recipe: pkg.loaded.recipe, root: pkg.entry.tree, kind: 'kiln' });
    else if (pkg.debian) providers.push({ name: pkg.locked.name, recipe: pkg.loaded.recipe, root: pkg.debian.root, kind: 'debian' });
  }

  // Which program: the project's choice, or else the default app of its only direct dependency.
  const direct = Object.keys(lock.root.dependencies);
  const fallback = direct.length === 1 ? providers.find((p) => p.name === direct[0]) : undefined;
  const app = defaultApp(manifest) ?? (fallback ? defaultApp(fallback.recipe) : undefined);
  if (!app) {
    throw new KilnError(ErrorCodes.APP_NOT_FOUND, `${project.file} does not say which program the image runs`, { hint: 'set runtime.app = "/usr/bin/NAME" (or install.binaries) in kiln.toml' });
  }
  let provider: Provider | undefined;
  for (const candidate of providers) {
    if (await exists(join(candidate.root, app))) {
      provider = candidate;
      break;
    }
  }
  if (!provider) {
    throw new KilnError(ErrorCodes.APP_NOT_FOUND, `no package of ${manifest.package.name} installs ${app}`, {
      details: providers.map((p) => `${p.name}: ${p.root}`),
      hint: 'check runtime.app in kiln.toml against the packages’ install trees',
    });
  }
  const appPath = join(provider.root, app);
  // The app keeps the path it has in its install tree (/usr/bin/sqlite3), as a Debian one does in its root.
  const appGuest = posix.normalize(posix.join('/', app));
  // Defaults: the project's runtime section when it names its app, else the providing package's.
  const own = manifest.runtime;
  const theirs = provider.recipe.runtime;
  const args = base.args && base.args.length > 0 ? base.args : own.args.length > 0 ? own.args : provider.name === manifest.package.name ? [] : theirs.args;
  const env = { ...(provider.name === manifest.package.name ? {} : theirs.env), ...own.env, ...(base.env ?? {}) };

  const files: DataFileRequest[] = [];
  const filesOf = new Map<string, string[]>();
  for (const p of providers) {
    const wanted = p.kind === 'debian' ? (p.recipe.debian?.files ?? []) : p.recipe.install.files;
    const guestPaths: string[] = [];
    for (const file of wanted) {
      const hostPath = join(p.root, file);
      if (!(await exists(hostPath))) {
        throw new KilnError(ErrorCodes.DATA_FILE_INVALID, `${p.name} declares ${file} in install.files, but its install tree has no such file`, { details: [hostPath], hint: `fix install.files in the recipe of ${p.name}` });
      }
      files.push({ hostPath, guestPath: file });
      guestPaths.push(file);
    }
    if (p === provider) guestPaths.unshift(appGuest);
    filesOf.set(p.name, guestPaths);
  }

  const components: ComponentInput[] = [];
  const kinds = new Map(build.packages.map((p) => [p.locked.name, p.debian ? 'debian' : 'kiln']));
  const idOf = (name: string): string => `${kinds.get(name) === 'debian' ? 'debian' : 'kiln'}:${name}`;
  const kilnComponent = (name: string, version: string, license: string, dependsOn: string[]): ComponentInput => ({
    id: `kiln:${name}`,
    kind: 'kiln-package',
    name,
    version,
    license,
    files: filesOf.get(name) ?? [],
    dependsOn,
  });
  for (const pkg of build.packages) {
    if (pkg.debian) components.push(...pkg.debian.components);
    else components.push(kilnComponent(pkg.locked.name, pkg.locked.version, pkg.locked.license, pkg.locked.dependencies.map(idOf)));
  }
  components.push(kilnComponent(manifest.package.name, manifest.package.version, manifest.package.license, direct.map(idOf)));

  const policy = manifest.licenses.allow.length > 0 || manifest.licenses.deny.length > 0 ? { licensePolicy: { allow: manifest.licenses.allow, deny: manifest.licenses.deny } } : {};
  const request: BakeRequest = {
    ...base,
    appPath,
    args,
    env,
    files: [...files, ...(base.files ?? [])],
    components: [...components, ...(base.components ?? [])],
    ...(provider.kind === 'debian' ? { sysroot: provider.root } : { appGuestPath: appGuest }),
    // The app's facts are those of the package it comes from (SQLite's shell is SQLite's, not the project's).
    // Command-line supply options refine these (an --app-license wins, a --deny-license adds to kiln.toml's).
    supply: {
      ...base.supply,
      app: { name: provider.recipe.package.name, version: provider.recipe.package.version, license: provider.recipe.package.license, ...base.supply?.app },
      ...mergePolicy(policy.licensePolicy, base.supply?.licensePolicy),
    },
  };
  return { request, build };
}

function mergePolicy(a: LicensePolicy | undefined, b: LicensePolicy | undefined): { licensePolicy?: LicensePolicy } {
  if (!a && !b) return {};
  const allow = [...(a?.allow ?? []), ...(b?.allow ?? [])];
  const deny = [...(a?.deny ?? []), ...(b?.deny ?? [])];
  return { licensePolicy: { ...(allow.length > 0 ? { allow } : {}), ...(deny.length > 0 ? { deny } : {}) } };
}

export interface ProjectBakeResult extends BakeResult {
  build: ProjectBuild;
}

/** Builds and bakes; without `output`, into <project>/.kiln/images/<target>. */
export async function bakeProject(ctx: Context, dir: string, base: Omit<BakeRequest, 'appPath'>, options: BuildProjectOptions & { output?: string } = {}): Promise<ProjectBakeResult> {
  const { request, build } = await projectBakeRequest(ctx, dir, base, options);
  const output = options.output ?? join(build.project.dir, '.kiln', 'images', request.target.name);
  const result = await bake(ctx, request, output);
  return { ...result, build };
}
