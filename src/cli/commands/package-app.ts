import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../../context.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import type { BakeRequest } from '../../bake/index.js';
import { debianBakeRequest, debianRecipeBakeRequest } from '../../debian/index.js';
import { loadRecipe, type LoadedRecipe } from '../../packages/recipe.js';
import { catalogueDir } from '../../packages/sources/catalogue.js';

/**
 * `kiln bake|run` take a program path, or a package:
 *   debian:NAME[=VERSION]  a Debian binary package and its Depends closure (src/debian), with
 *                          the runtime defaults of a catalogue recipe for that package if there is one;
 *   catalogue:NAME         a recipe of kiln's catalogue that names a Debian package.
 * The package's parts replace appPath; the user's flags (--file, --default-arg, ...) still apply
 * on top (recipe args are the default when no --default-arg is given).
 */
export function isPackageApp(app: string): boolean {
  return /^(debian|catalogue):/.test(app);
}

export interface PackageAppOptions {
  /** The program inside the package to run (--binary). */
  binary?: string;
  /** More Debian packages unpacked beside it (--package). */
  packages?: string[];
}

export async function withPackageApp(ctx: Context, app: string, request: BakeRequest, options: PackageAppOptions = {}): Promise<BakeRequest> {
  const { binary } = options;
  const debian = /^debian:([a-z0-9][a-z0-9+.-]*)(?:=(\S+))?$/.exec(app);
  if (!debian && !/^catalogue:/.test(app) && (options.packages ?? []).length > 0) {
    throw new KilnError(ErrorCodes.USAGE, '--package adds Debian packages to a debian: or catalogue: app', { hint: 'bake debian:NAME --package OTHER, or carry a host program with --program PATH' });
  }
  // With a package app, --program paths are inside the packages; the recipe's programs come first.
  const extra = { packages: options.packages ?? [], programs: request.programs ?? [] };
  if (debian) {
    const version = debian[2];
    // A catalogue recipe for the same package knows how to run it in a guest (redis's --bind and
    // --protected-mode, nginx's config): its runtime defaults and data apply; flags still override.
    const recipe = await catalogueRecipeFor(ctx, debian[1]!);
    if (recipe) {
      ctx.reporter.emit({ type: 'info', message: `using the runtime defaults and data of catalogue:${recipe.recipe.package.name} (${recipe.file})` });
      const withVersion = version === undefined ? recipe : { ...recipe, recipe: { ...recipe.recipe, debian: { ...recipe.recipe.debian!, version } } };
      const parts = await debianRecipeBakeRequest(ctx, withVersion, { ...(binary ? { binary } : {}), extra });
      return merge(request, parts, parts.args, parts.env);
    }
    const parts = await debianBakeRequest(ctx, {
      package: debian[1]!,
      ...(version ? { version } : {}),
      ...(binary ? { binary } : {}),
      ...(extra.packages.length > 0 ? { extraPackages: extra.packages } : {}),
      ...(extra.programs.length > 0 ? { programs: extra.programs } : {}),
    });
    return merge(request, parts, [], {});
  }
  const catalogue = /^catalogue:([a-z0-9][a-z0-9+._-]*)$/.exec(app);
  if (catalogue) {
    const file = join(catalogueDir(ctx.env), catalogue[1]!, 'recipe.toml');
    const loaded = await loadRecipe(file).catch((error: unknown) => {
      throw new KilnError(ErrorCodes.USAGE, `kiln's catalogue has no package ${catalogue[1]}`, { cause: error, hint: `see ${catalogueDir(ctx.env)}` });
    });
    if (!loaded.recipe.debian) {
      throw new KilnError(ErrorCodes.USAGE, `catalogue:${catalogue[1]} is built from source`, { hint: 'add it to a project (kiln add) and bake the project, or build it with kiln build' });
    }
    const parts = await debianRecipeBakeRequest(ctx, loaded, { ...(binary ? { binary } : {}), extra });
    return merge(request, parts, parts.args, parts.env);
  }
  if (isPackageApp(app)) throw new KilnError(ErrorCodes.USAGE, `cannot read the package name in ${app}`, { hint: 'write debian:NAME, debian:NAME=VERSION or catalogue:NAME' });
  return request;
}

async function catalogueRecipeFor(ctx: Context, debianPackage: string): Promise<LoadedRecipe | undefined> {
  const dir = catalogueDir(ctx.env);
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const loaded = await loadRecipe(join(dir, name, 'recipe.toml')).catch(() => undefined);
    if (loaded?.recipe.debian?.package === debianPackage) return loaded;
  }
  return undefined;
}

function merge(request: BakeRequest, parts: Awaited<ReturnType<typeof debianBakeRequest>>, args: string[], env: Record<string, string>): BakeRequest {
  return {
    ...request,
    appPath: parts.appPath,
    sysroot: parts.sysroot,
    args: request.args && request.args.length > 0 ? request.args : args,
    env: { ...env, ...request.env },
    files: [...parts.files, ...(request.files ?? [])],
    ...(parts.programs ? { programs: parts.programs } : {}),
    components: [...(request.components ?? []), ...parts.components],
  };
}
