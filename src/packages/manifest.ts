import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { KilnError, ErrorCodes } from '../errors.js';
import { sha256 } from '../util/fs.js';
import { checkRecipeRules, RecipeSchema } from './recipe.js';
import { parseTomlDocument } from './toml.js';

/**
 * The project manifest, kiln.toml: a recipe whose source is the project directory, plus the
 * sections only a project has — where else to look for packages ([[indexes]]), the target an
 * image is baked for by default ([target]) and the license policy ([licenses], stored here and
 * enforced by the supply-chain checks).
 */

/** The project file (kiln.toml) of a package project; an image's manifest is IMAGE_MANIFEST_FILE (image.json). */
export const PROJECT_FILE = 'kiln.toml';

const IndexSchema = z
  .object({
    path: z.string().min(1).optional().describe('a local index directory (<dir>/<name>/<version>/recipe.toml), relative to kiln.toml'),
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL')
      .optional()
      .describe('an index served over HTTP: <url>/index.json and <url>/<name>/<version>/recipe.toml'),
    insecure: z.boolean().optional().describe('allow a plain http:// index on another host (its answers are not authenticated)'),
  })
  .strict()
  // index.json carries the hashes everything else is checked against, so whoever answers a plain
  // http:// request could hand out any recipe: https, or this machine, unless the user says so.
  .refine((i) => i.url === undefined || i.insecure === true || /^https:\/\//.test(i.url) || /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/.test(i.url), {
    message: 'a plain http:// index must be on this machine (127.0.0.1, localhost); use https://, or set insecure = true',
  })
  .refine((i) => (i.path === undefined) !== (i.url === undefined), { message: 'give exactly one of path or url' });

const spdxId = z.string().regex(/^[A-Za-z0-9.+-]+$/, 'must be an SPDX license id');

export const ProjectManifestSchema = z
  .object({
    ...RecipeSchema.shape,
    indexes: z.array(IndexSchema).default([]).describe('package indexes searched before the built-in catalogue, in order'),
    target: z
      .object({ name: z.string().min(1).optional().describe('default target of `kiln bake` for this project (see `kiln targets`)') })
      .strict()
      .default({}),
    licenses: z
      .object({
        allow: z.array(spdxId).default([]).describe('license ids accepted in the dependency closure (empty: no allow list)'),
        deny: z.array(spdxId).default([]).describe('license ids refused in the dependency closure'),
      })
      .strict()
      .default({ allow: [], deny: [] }),
  })
  .strict()
  .superRefine(checkRecipeRules);

export type ProjectManifest = z.infer<typeof ProjectManifestSchema>;
export type IndexEntry = z.infer<typeof IndexSchema>;

export interface LoadedProject {
  manifest: ProjectManifest;
  /** The project directory (absolute) and its kiln.toml. */
  dir: string;
  file: string;
  /** sha256 of kiln.toml's bytes. */
  sha256: string;
  /** The text as read, for edits that keep the user's formatting (kiln add). */
  text: string;
}

export function projectJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ProjectManifestSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
}

/** Parses kiln.toml text; every schema problem is listed with its path. */
export function parseManifest(text: string, file: string): ProjectManifest {
  return parseTomlDocument(ProjectManifestSchema, text, file, {
    code: ErrorCodes.MANIFEST_INVALID,
    noun: 'project manifest',
    hint: 'a kiln.toml is a recipe (see `kiln recipe schema`) plus [[indexes]], [target] and [licenses]',
  });
}

export async function loadProject(dir: string): Promise<LoadedProject> {
  const root = resolve(dir);
  const file = join(root, PROJECT_FILE);
  const bytes = await readFile(file).catch((error: unknown) => {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new KilnError(ErrorCodes.MANIFEST_INVALID, missing ? `no ${PROJECT_FILE} in ${root}` : `cannot read ${file}`, {
      cause: error,
      hint: missing ? 'create one with `kiln init`' : 'check the permissions',
    });
  });
  const text = bytes.toString('utf8');
  return { manifest: parseManifest(text, file), dir: root, file, sha256: sha256(bytes), text };
}
