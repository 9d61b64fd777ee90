import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { KilnError, ErrorCodes } from '../errors.js';
import type { Component } from '../image/components.js';

/**
 * Components of a kiln.lock, for `kiln audit kiln.lock`: each locked kiln package, and each
 * Debian package of a locked Debian closure (by source package, as OSV names them). Only the
 * fields an audit needs are read, so the reader follows the lockfile's shape loosely (JSON or TOML).
 */

const DebianEntry = z.object({ package: z.string(), version: z.string(), architecture: z.string().optional(), source: z.object({ package: z.string(), version: z.string() }) });
const LockSchema = z.object({
  root: z.object({ name: z.string(), version: z.string() }).optional(),
  packages: z.array(
    z.object({
      name: z.string(),
      version: z.string(),
      dependencies: z.array(z.string()).optional(),
      debian: z.object({ closure: z.array(DebianEntry) }).optional(),
    }),
  ),
});

export const LOCK_FILE = 'kiln.lock';

/** Accepts the lockfile itself or the project directory holding it. */
export async function lockComponents(path: string): Promise<Component[]> {
  const file = (await stat(path).catch(() => undefined))?.isDirectory() ? join(path, LOCK_FILE) : path;
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new KilnError(ErrorCodes.LOCK_INVALID, `cannot read ${file}`, { cause: error, hint: 'run kiln lock first' });
  });
  let data: unknown;
  try {
    data = text.trimStart().startsWith('{') ? JSON.parse(text) : parseToml(text);
  } catch (error) {
    throw new KilnError(ErrorCodes.LOCK_INVALID, `${file} is neither JSON nor TOML: ${(error as Error).message}`, { cause: error });
  }
  const parsed = LockSchema.safeParse(data);
  if (!parsed.success) {
    throw new KilnError(ErrorCodes.LOCK_INVALID, `${file} is not a kiln lockfile`, { details: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) });
  }
  const byId = new Map<string, Component>();
  for (const pkg of parsed.data.packages) {
    const debianIds = (pkg.debian?.closure ?? []).map((entry) => `debian:${entry.package}`);
    byId.set(`kiln:${pkg.name}`, {
      id: `kiln:${pkg.name}`,
      kind: 'kiln-package',
      name: pkg.name,
      version: pkg.version,
      files: [],
      dependsOn: [...(pkg.dependencies ?? []).map((name) => `kiln:${name.split('@')[0]}`), ...debianIds],
    });
    for (const entry of pkg.debian?.closure ?? []) {
      byId.set(`debian:${entry.package}`, {
        id: `debian:${entry.package}`,
        kind: 'debian-package',
        name: entry.package,
        version: entry.version,
        debian: { package: entry.package, version: entry.version, ...(entry.architecture ? { architecture: entry.architecture } : {}), source: entry.source },
        files: [],
        dependsOn: [],
      });
    }
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
}
