import { resolve } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { debianBakeRequest, type DebianBakeParts } from './bake.js';
import type { DebianLock } from './types.js';

/**
 * What this reads of a loaded recipe (src/packages/recipe.ts LoadedRecipe has all of it),
 * declared here: debian/ does not depend on packages/, whose lockfile pins Debian closures.
 */
export interface DebianRecipe {
  file: string;
  dir: string;
  recipe: {
    debian?: { package: string; version?: string | undefined; binary?: string | undefined; files: string[]; packages: string[]; programs: string[] } | undefined;
    runtime: { app?: string | undefined; args: string[]; env: Record<string, string> };
    data: readonly { path: string; dest: string }[];
  };
}

/**
 * The bake parts of a recipe with a [debian] section: the package's program and declared
 * files, the recipe's [[data]] files (paths relative to the recipe), and its runtime
 * defaults (args, env). `lock` is the closure kiln.lock pinned, when there is one.
 */
export async function debianRecipeBakeRequest(
  ctx: Context,
  loaded: DebianRecipe,
  opts: { lock?: DebianLock; binary?: string; extra?: { packages: string[]; programs: string[] } } = {},
): Promise<DebianBakeParts & { args: string[]; env: Record<string, string> }> {
  const { recipe } = loaded;
  if (!recipe.debian) {
    throw new KilnError(ErrorCodes.RECIPE_INVALID, `${loaded.file} has no [debian] section`, { hint: 'build it with `kiln build` first' });
  }
  const parts = await debianBakeRequest(ctx, {
    package: recipe.debian.package,
    ...(recipe.debian.version !== undefined ? { version: recipe.debian.version } : {}),
    binary: opts.binary ?? recipe.runtime.app ?? recipe.debian.binary,
    ...extraParts([...recipe.debian.packages, ...(opts.extra?.packages ?? [])], [...recipe.debian.programs, ...(opts.extra?.programs ?? [])]),
    files: recipe.debian.files,
    data: recipe.data.map((d) => ({ hostPath: resolve(loaded.dir, d.path), guestPath: d.dest })),
    ...(opts.lock ? { lock: opts.lock } : {}),
  });
  return { ...parts, args: recipe.runtime.args, env: recipe.runtime.env };
}

function extraParts(packages: string[], programs: string[]): { extraPackages?: string[]; programs?: string[] } {
  return { ...(packages.length > 0 ? { extraPackages: [...new Set(packages)] } : {}), ...(programs.length > 0 ? { programs: [...new Set(programs)] } : {}) };
}
