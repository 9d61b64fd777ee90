import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { KilnError, ErrorCodes } from '../errors.js';
import { repositoryName, type Reference } from '../oci/reference.js';
import { readPublicKey } from './keys.js';
import type { TrustedKey } from './verify.js';

/**
 * A signing policy for pull and run (`--policy FILE`): which keys must have signed images from
 * which registries or repositories. The longest matching scope wins; an image no scope matches
 * gets `default` (reject unless it says accept). Key paths are relative to the policy file.
 *
 *   { "default": "reject",
 *     "trust": [ { "scope": "localhost:5000/me", "keys": ["kiln.pub"] },
 *                { "scope": "localhost:5000/public", "accept": "anything" } ] }
 */
const PolicySchema = z.object({
  default: z.enum(['reject', 'accept']).default('reject'),
  trust: z.array(
    z.union([
      z.object({ scope: z.string().min(1), keys: z.array(z.string().min(1)).min(1) }).strict(),
      z.object({ scope: z.string().min(1), accept: z.literal('anything') }).strict(),
    ]),
  ),
}).strict();

export type Requirement = { kind: 'keys'; keys: TrustedKey[]; scope: string } | { kind: 'accept'; scope: string };

export interface SigningPolicy {
  requirementFor(reference: Reference): Requirement;
}

export async function loadPolicy(path: string): Promise<SigningPolicy> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new KilnError(ErrorCodes.POLICY_INVALID, `cannot read the signing policy ${path}: ${(error as Error).message}`, { cause: error });
  }
  const parsed = PolicySchema.safeParse(json);
  if (!parsed.success) {
    throw new KilnError(ErrorCodes.POLICY_INVALID, `${path} is not a valid signing policy`, { details: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) });
  }
  const base = dirname(resolve(path));
  const entries = await Promise.all(parsed.data.trust.map(async (entry): Promise<Requirement> => {
    if ('accept' in entry) return { kind: 'accept', scope: entry.scope };
    const keys = await Promise.all(entry.keys.map(async (file) => {
      const keyPath = resolve(base, file);
      const text = await readFile(keyPath, 'utf8').catch((error: unknown) => {
        throw new KilnError(ErrorCodes.POLICY_INVALID, `${path}: cannot read key ${file}`, { cause: error });
      });
      return { name: file, key: readPublicKey(text, keyPath) };
    }));
    return { kind: 'keys', keys, scope: entry.scope };
  }));
  const fallback = parsed.data.default;
  return {
    requirementFor(reference) {
      const name = repositoryName(reference);
      const matching = entries.filter((entry) => name === entry.scope || name.startsWith(`${entry.scope.replace(/\/$/, '')}/`)).sort((a, b) => b.scope.length - a.scope.length);
      if (matching[0]) return matching[0];
      if (fallback === 'accept') return { kind: 'accept', scope: '(default)' };
      throw new KilnError(ErrorCodes.SIGNATURE_MISSING, `the signing policy ${path} trusts no key for ${name} and its default is reject`, { hint: `add a trust entry whose scope covers ${name}` });
    },
  };
}
