import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KilnError, ErrorCodes } from '../../errors.js';
import { sha256, writeFileAtomically } from '../../util/fs.js';
import { parseRecipe, type LoadedRecipe } from '../recipe.js';
import { checkIdentity } from './directory.js';
import { INDEX_FILE, parseIndexFile, type IndexFile } from './index-file.js';
import type { DependencyInfo, PackageSource } from './types.js';

/**
 * An index served over HTTP: <url>/index.json lists names, versions, dependency ranges and the
 * sha256 of each recipe; recipes live at <url>/<name>/<version>/recipe.toml. Every fetched recipe
 * is checked against index.json before it is used, then kept in the cache under its sha256, so a
 * locked recipe is read from disk afterwards. `path` sources inside such recipes refer to the
 * cached copy's directory, so HTTP-served recipes should use url or npm sources.
 */
export class HttpSource implements PackageSource {
  private index: Promise<IndexFile> | undefined;

  constructor(
    readonly id: string,
    private readonly url: string,
    private readonly cacheDir: string,
    private readonly signal?: AbortSignal,
  ) {}

  private base(): string {
    return this.url.replace(/\/+$/, '');
  }

  private loadIndex(): Promise<IndexFile> {
    this.index ??= this.get(`${this.base()}/${INDEX_FILE}`).then((bytes) => {
      let data: unknown;
      try {
        data = JSON.parse(bytes.toString('utf8'));
      } catch (error) {
        throw new KilnError(ErrorCodes.INDEX_INVALID, `${this.base()}/${INDEX_FILE} is not JSON`, { cause: error });
      }
      return parseIndexFile(data, `${this.base()}/${INDEX_FILE}`);
    });
    return this.index;
  }

  private async get(url: string): Promise<Buffer> {
    let response: Response;
    try {
      response = await fetch(url, this.signal ? { signal: this.signal } : {});
    } catch (error) {
      throw new KilnError(ErrorCodes.INDEX_UNREACHABLE, `cannot reach ${url}`, { cause: error, hint: 'check the url in [[indexes]] and the network' });
    }
    if (!response.ok) throw new KilnError(ErrorCodes.INDEX_INVALID, `${url} answered HTTP ${response.status}`, { hint: 'check the url in [[indexes]]' });
    return Buffer.from(await response.arrayBuffer());
  }

  async names(): Promise<string[]> {
    return Object.keys((await this.loadIndex()).packages);
  }

  async versions(name: string): Promise<string[]> {
    return Object.keys((await this.loadIndex()).packages[name] ?? {});
  }

  async dependencies(name: string, version: string): Promise<DependencyInfo> {
    const entry = (await this.loadIndex()).packages[name]?.[version];
    if (!entry) throw new KilnError(ErrorCodes.INDEX_INVALID, `${this.base()} has no ${name} ${version}`);
    return { dependencies: entry.dependencies, buildDependencies: entry.buildDependencies };
  }

  /**
   * A recipe already fetched and verified, by the sha256 kiln.lock recorded: lets a locked
   * project build without reaching the index again.
   */
  async cachedRecipe(name: string, version: string, recipeSha256: string): Promise<LoadedRecipe | undefined> {
    const dir = join(this.cacheDir, recipeSha256);
    const file = join(dir, 'recipe.toml');
    const bytes = await readFile(file).catch(() => undefined);
    if (!bytes || sha256(bytes) !== recipeSha256) return undefined;
    const loaded = { recipe: parseRecipe(bytes.toString('utf8'), `${name} ${version} from ${this.base()}`), file, dir, sha256: recipeSha256 };
    return checkIdentity(refuseLocalPaths(loaded, this.base()), name, version);
  }

  async recipe(name: string, version: string): Promise<LoadedRecipe> {
    const entry = (await this.loadIndex()).packages[name]?.[version];
    if (!entry) throw new KilnError(ErrorCodes.INDEX_INVALID, `${this.base()} has no ${name} ${version}`);
    const dir = join(this.cacheDir, entry.recipeSha256);
    const file = join(dir, 'recipe.toml');
    let bytes: Buffer | undefined = await readFile(file).catch(() => undefined);
    if (!bytes || sha256(bytes) !== entry.recipeSha256) {
      const url = `${this.base()}/${encodeURIComponent(name)}/${encodeURIComponent(version)}/recipe.toml`;
      bytes = await this.get(url);
      const actual = sha256(bytes);
      if (actual !== entry.recipeSha256) {
        throw new KilnError(ErrorCodes.INDEX_INVALID, `${url} does not match its index: sha256 ${actual}, index.json says ${entry.recipeSha256}`, {
          hint: 'the index or the recipe was changed without the other; ask its maintainer to run `kiln index build`',
        });
      }
      await writeFileAtomically(file, bytes);
    }
    const text = bytes.toString('utf8');
    const loaded: LoadedRecipe = { recipe: parseRecipe(text, `${name} ${version} from ${this.base()}`), file, dir, sha256: entry.recipeSha256 };
    return checkIdentity(refuseLocalPaths(loaded, this.base()), name, version);
  }
}

/**
 * A recipe from the network may only name hashed downloads: a `path` source or a [[data]]
 * file would be read from this machine (`path = "/root/.ssh"`), and end up in a store entry
 * and an image.
 */
function refuseLocalPaths(loaded: LoadedRecipe, base: string): LoadedRecipe {
  const { recipe } = loaded;
  const local = [...recipe.sources.filter((source) => source.path !== undefined).map((source) => `source path ${source.path}`), ...(recipe.data ?? []).map((item) => `data ${item.path}`)];
  if (local.length > 0) {
    throw new KilnError(ErrorCodes.INDEX_INVALID, `${recipe.package.name} ${recipe.package.version} from ${base} names local files: ${local.join(', ')}`, {
      hint: 'recipes served over HTTP may only use url or npm sources with their sha256',
    });
  }
  return loaded;
}
