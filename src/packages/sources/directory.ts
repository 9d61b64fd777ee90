import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import { KilnError, ErrorCodes } from '../../errors.js';
import { loadRecipe, PACKAGE_NAME, type LoadedRecipe } from '../recipe.js';
import { dependencyInfo, type DependencyInfo, type PackageSource } from './types.js';

/**
 * A local index directory: <dir>/<name>/<version>/recipe.toml, one directory per version so a
 * recipe can keep patches or small files beside it (its `path` sources are relative to it).
 * `kiln index build DIR` adds an index.json so the same directory can be served over HTTP.
 */
export class DirectorySource implements PackageSource {
  private readonly loaded = new Map<string, Promise<LoadedRecipe>>();

  constructor(
    readonly id: string,
    private readonly dir: string,
  ) {}

  async names(): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true }).catch((error: unknown) => {
      throw new KilnError(ErrorCodes.INDEX_INVALID, `cannot read the index directory ${this.dir}`, { cause: error, hint: 'check [[indexes]] in kiln.toml' });
    });
    return entries.filter((e) => e.isDirectory() && PACKAGE_NAME.test(e.name)).map((e) => e.name);
  }

  async versions(name: string): Promise<string[]> {
    if (!PACKAGE_NAME.test(name)) return [];
    const entries = await readdir(join(this.dir, name), { withFileTypes: true }).catch(async () => {
      // A missing package is normal; a missing index directory is a mistake in kiln.toml.
      if (!(await stat(this.dir).then((s) => s.isDirectory(), () => false))) {
        throw new KilnError(ErrorCodes.INDEX_INVALID, `the index directory ${this.dir} does not exist`, { hint: `check [[indexes]] path = "${this.id}" in kiln.toml (relative to kiln.toml)` });
      }
      return [];
    });
    const out: string[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || semver.valid(entry.name) === null) continue;
      if (await isFile(join(this.dir, name, entry.name, 'recipe.toml'))) out.push(entry.name);
    }
    return out;
  }

  recipe(name: string, version: string): Promise<LoadedRecipe> {
    const key = `${name}@${version}`;
    let loading = this.loaded.get(key);
    if (!loading) {
      loading = loadRecipe(join(this.dir, name, version, 'recipe.toml')).then((loaded) => checkIdentity(loaded, name, version));
      this.loaded.set(key, loading);
    }
    return loading;
  }

  async dependencies(name: string, version: string): Promise<DependencyInfo> {
    return dependencyInfo(await this.recipe(name, version));
  }
}

/** A recipe filed under one name and version must say that name and version. */
export function checkIdentity(loaded: LoadedRecipe, name: string, version: string): LoadedRecipe {
  const p = loaded.recipe.package;
  if (p.name !== name || p.version !== version) {
    throw new KilnError(ErrorCodes.INDEX_INVALID, `${loaded.file} says ${p.name} ${p.version} but is filed as ${name} ${version}`, {
      hint: 'the directory names must match [package] name and version',
    });
  }
  return loaded;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
