import { join } from 'node:path';
import { z } from 'zod';
import semver from 'semver';
import { KilnError, ErrorCodes } from '../../errors.js';
import { canonicalJson, writeFileAtomically } from '../../util/fs.js';
import { PACKAGE_NAME } from '../recipe.js';
import { DirectorySource } from './directory.js';

/**
 * index.json: what an HTTP index serves so a resolver can work from one download — every name,
 * version and dependency range, and the sha256 each recipe must have when it is fetched.
 */
const rangeMap = z.record(z.string().regex(PACKAGE_NAME), z.string().refine((r) => semver.validRange(r) !== null, 'must be a semver range'));
export const IndexFileSchema = z.object({
  kilnIndex: z.literal(1),
  packages: z.record(
    z.string().regex(PACKAGE_NAME),
    z.record(
      z.string().refine((v) => semver.valid(v) !== null, 'must be a semantic version'),
      z.object({ recipeSha256: z.string().regex(/^[0-9a-f]{64}$/), dependencies: rangeMap.default({}), buildDependencies: rangeMap.default({}) }),
    ),
  ),
});
export type IndexFile = z.infer<typeof IndexFileSchema>;

export const INDEX_FILE = 'index.json';

export function parseIndexFile(data: unknown, where: string): IndexFile {
  const parsed = IndexFileSchema.safeParse(data);
  if (!parsed.success) {
    throw new KilnError(ErrorCodes.INDEX_INVALID, `${where} is not a valid kiln index`, {
      details: parsed.error.issues.slice(0, 20).map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`),
      hint: 'regenerate it with `kiln index build DIR`',
    });
  }
  return parsed.data;
}

/** Reads every recipe of a local index directory and writes its index.json (canonical JSON). */
export async function buildIndex(dir: string): Promise<{ file: string; packages: number; versions: number }> {
  const source = new DirectorySource(dir, dir);
  const index: IndexFile = { kilnIndex: 1, packages: {} };
  let versions = 0;
  for (const name of (await source.names()).sort()) {
    const entry: IndexFile['packages'][string] = {};
    for (const version of (await source.versions(name)).sort(semver.compare)) {
      const loaded = await source.recipe(name, version);
      entry[version] = { recipeSha256: loaded.sha256, dependencies: loaded.recipe.dependencies, buildDependencies: loaded.recipe['build-dependencies'] };
      versions++;
    }
    if (Object.keys(entry).length > 0) index.packages[name] = entry;
  }
  const file = join(dir, INDEX_FILE);
  await writeFileAtomically(file, canonicalJson(index));
  return { file, packages: Object.keys(index.packages).length, versions };
}
