import { join, resolve } from 'node:path';
import semver from 'semver';
import type { Context } from '../../context.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import type { IndexEntry } from '../manifest.js';
import type { LoadedRecipe } from '../recipe.js';
import { CatalogueSource, catalogueDir } from './catalogue.js';
import { DirectorySource } from './directory.js';
import { HttpSource } from './http.js';
import type { DependencyInfo, PackageSource } from './types.js';

export type { PackageSource, DependencyInfo } from './types.js';
export { DirectorySource } from './directory.js';
export { CatalogueSource, catalogueDir } from './catalogue.js';
export { HttpSource } from './http.js';
export { buildIndex, parseIndexFile, INDEX_FILE, type IndexFile } from './index-file.js';

/**
 * The sources of a project, in the order they are searched: its [[indexes]], then the catalogue.
 * A source's id (what kiln.lock records) is 'catalogue', the index path as written in kiln.toml,
 * or the index URL, so a lock stays valid when the project directory moves.
 */
export function projectSources(ctx: Context, projectDir: string, indexes: IndexEntry[]): PackageSource[] {
  const sources: PackageSource[] = indexes.map((entry) =>
    entry.url !== undefined
      ? new HttpSource(entry.url, entry.url, join(ctx.paths.cache, 'packages', 'recipes'), ctx.signal)
      : new DirectorySource(entry.path ?? '', resolve(projectDir, entry.path ?? '')),
  );
  sources.push(new CatalogueSource(catalogueDir(ctx.env)));
  return sources;
}

/**
 * Several sources seen as one: a version offered by more than one source comes from the first
 * (the project's own indexes win over the catalogue).
 */
export class SourceSet {
  private readonly owners = new Map<string, Promise<Map<string, PackageSource>>>();

  constructor(readonly sources: PackageSource[]) {}

  private owner(name: string): Promise<Map<string, PackageSource>> {
    let found = this.owners.get(name);
    if (!found) {
      found = (async () => {
        const map = new Map<string, PackageSource>();
        for (const source of this.sources) {
          for (const version of await source.versions(name)) if (!map.has(version)) map.set(version, source);
        }
        return map;
      })();
      this.owners.set(name, found);
    }
    return found;
  }

  /** Versions of `name`, oldest first. */
  async versions(name: string): Promise<string[]> {
    return [...(await this.owner(name)).keys()].sort(semver.compare);
  }

  async sourceOf(name: string, version: string): Promise<PackageSource> {
    const source = (await this.owner(name)).get(version);
    if (!source) throw new KilnError(ErrorCodes.PACKAGE_UNKNOWN, `no source offers ${name} ${version}`);
    return source;
  }

  async dependencies(name: string, version: string): Promise<DependencyInfo> {
    return (await this.sourceOf(name, version)).dependencies(name, version);
  }

  async recipe(name: string, version: string): Promise<LoadedRecipe> {
    return (await this.sourceOf(name, version)).recipe(name, version);
  }

  async names(): Promise<string[]> {
    const all = new Set<string>();
    for (const source of this.sources) for (const name of await source.names().catch(() => [])) all.add(name);
    return [...all].sort();
  }
}
