import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KilnError, ErrorCodes } from '../../errors.js';
import { loadRecipe, PACKAGE_NAME, type LoadedRecipe } from '../recipe.js';
import { checkIdentity } from './directory.js';
import { dependencyInfo, type DependencyInfo, type PackageSource } from './types.js';

/**
 * The catalogue shipped with kiln: <repo>/catalogue/<name>/recipe.toml, one version per name.
 * It is found by walking up from this module to the directory holding kiln's package.json, so
 * it works from src/ and from the compiled dist/src/ alike. KILN_CATALOGUE_DIR overrides it.
 */
export function catalogueDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KILN_CATALOGUE_DIR) return env.KILN_CATALOGUE_DIR;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'catalogue');
    const parent = dirname(dir);
    if (parent === dir) return join(dirname(fileURLToPath(import.meta.url)), 'catalogue');
    dir = parent;
  }
}

export class CatalogueSource implements PackageSource {
  readonly id = 'catalogue';
  private readonly loaded = new Map<string, Promise<LoadedRecipe | undefined>>();

  constructor(private readonly dir: string) {}

  async names(): Promise<string[]> {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && PACKAGE_NAME.test(e.name) && existsSync(join(this.dir, e.name, 'recipe.toml')))
      .map((e) => e.name);
  }

  private load(name: string): Promise<LoadedRecipe | undefined> {
    let loading = this.loaded.get(name);
    if (!loading) {
      const file = join(this.dir, name, 'recipe.toml');
      loading = PACKAGE_NAME.test(name) && existsSync(file) ? loadRecipe(file) : Promise.resolve(undefined);
      this.loaded.set(name, loading);
    }
    return loading;
  }

  async versions(name: string): Promise<string[]> {
    const loaded = await this.load(name);
    return loaded ? [loaded.recipe.package.version] : [];
  }

  async recipe(name: string, version: string): Promise<LoadedRecipe> {
    const loaded = await this.load(name);
    if (!loaded) throw new KilnError(ErrorCodes.INDEX_INVALID, `the catalogue (${this.dir}) has no package ${name}`);
    return checkIdentity(loaded, name, version);
  }

  async dependencies(name: string, version: string): Promise<DependencyInfo> {
    return dependencyInfo(await this.recipe(name, version));
  }
}
