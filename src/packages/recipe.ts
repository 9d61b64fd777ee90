import { readFile } from 'node:fs/promises';
import { dirname, posix, resolve } from 'node:path';
import semver from 'semver';
import { z } from 'zod';
import { KilnError, ErrorCodes } from '../errors.js';
import { sha256 } from '../util/fs.js';
import { invalidSpdxIds } from './spdx.js';
import { parseTomlDocument } from './toml.js';

/**
 * A recipe: how one version of one package is obtained (sources with sha256, or a Debian
 * binary package), built (steps run with the kiln toolchain in a clean tree, no network) and
 * installed, plus what it needs and what it offers at run time. A project's kiln.toml is a
 * recipe too (see manifest.ts): its sources are the project directory.
 *
 * This zod schema is the one description: TypeScript types, validation with paths, and the
 * published JSON Schema (`kiln recipe schema`) all come from it.
 */

export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+._-]*$/;
const sha = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');
const noNul = z.string().refine((s) => !s.includes('\0'), 'must not contain NUL characters');
// Normalised and without '..': these paths are joined onto install trees and staging roots,
// and '/../../etc/shadow' would otherwise reach the host's files.
const absolutePath = noNul.refine((s) => s.startsWith('/') && posix.normalize(s) === s && !s.split('/').includes('..'), 'must be a normalised absolute path without ..');
const relativeInside = noNul.refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'must be a relative path inside the recipe directory');
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name');
const packageName = z.string().regex(PACKAGE_NAME, 'must be lowercase letters, digits and + . _ -');
const version = z.string().refine((v) => semver.valid(v) !== null, 'must be a semantic version such as 1.2.3');
const range = z.string().refine((r) => semver.validRange(r) !== null, 'must be a semver range such as ^1.2 or >=3.40 <4');
const spdx = z.string().superRefine((expression, ctx) => {
  const problem = invalidSpdxIds(expression);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const SourceSchema = z
  .object({
    url: z.string().url().optional().describe('http(s) URL of the source archive or file'),
    path: noNul.optional().describe('a file or directory, relative to the recipe'),
    npm: z.string().regex(/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+@[0-9][^\s]*$/, 'must be NAME@EXACT-VERSION').optional().describe("an npm package tarball, fetched with `npm pack` through the host's npm configuration"),
    member: relativeInside.optional().describe('with npm: the file inside the npm tarball that is the source (e.g. package/deps/x.tar.gz)'),
    sha256: sha.optional().describe('sha256 of the file used (for npm: of the member, or of the tarball); required except for directories'),
    extract: z.boolean().optional().describe('unpack a .tar(.gz|.xz|.bz2) archive (default: true for archives)'),
    strip: z.number().int().min(0).max(8).optional().describe('leading path components to drop when unpacking (default 1)'),
    into: relativeInside.optional().describe('subdirectory of the build tree to put it in'),
  })
  .strict()
  .refine((s) => [s.url, s.path, s.npm].filter((v) => v !== undefined).length === 1, { message: 'give exactly one of url, path or npm' })
  .refine((s) => (s.url === undefined && s.npm === undefined) || s.sha256 !== undefined, { message: 'a url or npm source needs its sha256' })
  .refine((s) => s.member === undefined || s.npm !== undefined, { message: 'member is only for npm sources' });

export const DebianSchema = z
  .object({
    package: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name').describe('binary package name'),
    version: z.string().optional().describe('exact Debian version; default: the candidate apt offers (pinned by kiln.lock)'),
    binary: absolutePath.describe('the program to run, a path inside the package'),
    packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name')).default([]).describe('more Debian packages unpacked beside it, in the same closure (for programs the app runs)'),
    programs: z.array(absolutePath).default([]).describe('other programs the image carries with their libraries, paths inside the packages'),
    files: z.array(absolutePath).default([]).describe('data files or directories taken from the unpacked packages'),
  })
  .strict();

/** A file or directory kept beside the recipe (e.g. nginx.conf) that goes into images at `dest`. */
export const DataSchema = z
  .object({
    path: relativeInside.describe('file or directory, relative to the recipe'),
    dest: absolutePath.describe('where it goes in the guest'),
  })
  .strict();

export const BuildSchema = z
  .object({
    tuple: z.string().default('x86_64-kiln-linux-musl').describe('kiln toolchain tuple the steps build for'),
    steps: z.array(z.array(noNul).min(1)).min(1).describe('argv lists run in order in the build tree; $KILN_* variables are expanded'),
    env: z.record(envName, noNul).default({}).describe('extra environment for the steps'),
  })
  .strict()
  .refine((b) => b.env.SOURCE_DATE_EPOCH === undefined || /^\d+$/.test(b.env.SOURCE_DATE_EPOCH), {
    message: 'SOURCE_DATE_EPOCH must be a whole number of seconds',
    path: ['env', 'SOURCE_DATE_EPOCH'],
  });

export const RuntimeDefaultsSchema = z
  .object({
    app: absolutePath.optional().describe('the program an image of this package runs (default: the first of install.binaries or debian.binary)'),
    args: z.array(noNul).default([]),
    env: z.record(envName, noNul).default({}),
    ports: z.array(z.string().regex(/^\d{1,5}(\/(tcp|udp))?$/, 'must be PORT or PORT/udp')).default([]),
    volumes: z.array(absolutePath).default([]).describe('guest paths the app expects a volume at'),
  })
  .strict();

export const RecipeSchema = z
  .object({
    package: z
      .object({
        name: packageName,
        version,
        license: spdx.describe('SPDX license expression'),
        summary: z.string().optional(),
        homepage: z.string().url().optional(),
      })
      .strict(),
    sources: z.array(SourceSchema).default([]),
    debian: DebianSchema.optional(),
    dependencies: z.record(packageName, range).default({}).describe('runtime dependencies: name = semver range'),
    'build-dependencies': z.record(packageName, range).default({}).describe('needed only while building'),
    build: BuildSchema.optional(),
    install: z
      .object({
        binaries: z.array(absolutePath).default([]).describe('programs, as paths in the install tree'),
        files: z.array(absolutePath).default([]).describe('data files or directories kept for images'),
      })
      .strict()
      .default({ binaries: [], files: [] }),
    runtime: RuntimeDefaultsSchema.default({ args: [], env: {}, ports: [], volumes: [] }),
    data: z.array(DataSchema).default([]).describe('files shipped with the recipe (configuration, pages) that images of it carry'),
  })
  .strict()
  .superRefine(checkRecipeRules);

/** Rules across sections, for every recipe and so for kiln.toml too. */
export function checkRecipeRules(recipe: { debian?: unknown; build?: unknown; sources: unknown[] }, ctx: z.RefinementCtx): void {
  if (recipe.debian && recipe.build) ctx.addIssue({ code: 'custom', message: 'a Debian package recipe has no build steps', path: ['build'] });
  if (recipe.debian && recipe.sources.length > 0) ctx.addIssue({ code: 'custom', message: 'a Debian package recipe has no sources', path: ['sources'] });
}

export type Recipe = z.infer<typeof RecipeSchema>;
export type RecipeSource = z.infer<typeof SourceSchema>;

export interface LoadedRecipe {
  recipe: Recipe;
  /** The recipe file, and the directory relative paths are taken from. */
  file: string;
  dir: string;
  /** sha256 of the recipe file's bytes: part of every build key and of kiln.lock. */
  sha256: string;
}

export function recipeJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(RecipeSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
}

/** Parses recipe TOML text; every schema problem is listed with its path. */
export function parseRecipe(text: string, file: string): Recipe {
  return parseTomlDocument(RecipeSchema, text, file, { code: ErrorCodes.RECIPE_INVALID, noun: 'recipe', hint: 'see `kiln recipe schema` for every field' });
}

export async function loadRecipe(file: string): Promise<LoadedRecipe> {
  const path = resolve(file);
  const bytes = await readFile(path).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.RECIPE_INVALID, `cannot read recipe ${file}`, { cause: error, hint: 'check the path' });
  });
  return { recipe: parseRecipe(bytes.toString('utf8'), file), file: path, dir: dirname(path), sha256: sha256(bytes) };
}

/** The program an image of this package runs by default, if it names one. */
export function defaultApp(recipe: Recipe): string | undefined {
  return recipe.runtime.app ?? recipe.install.binaries[0] ?? recipe.debian?.binary;
}
