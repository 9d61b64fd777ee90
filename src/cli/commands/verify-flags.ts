import type { Command } from 'commander';
import { KilnError, ErrorCodes } from '../../errors.js';
import { loadPolicy, loadTrustedKeys, type SignatureRequirement } from '../../signing/index.js';

/** `--verify-key` (repeatable) and `--policy`, for pull and run. */
export function addVerifyOptions(command: Command, keyFlag: '--key' | '--verify-key'): Command {
  return command
    .option(`${keyFlag} <kiln.pub>`, 'require a signature by this public key (repeatable: any of them)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--policy <file>', 'require signatures as this signing policy says (JSON: default, trust[].scope/keys)');
}

export interface RawVerifyOptions {
  key?: string[];
  verifyKey?: string[];
  policy?: string;
}

/** The signature requirement the flags ask for, or undefined when none is asked. */
export async function signatureRequirement(options: RawVerifyOptions): Promise<SignatureRequirement | undefined> {
  const keys = [...(options.key ?? []), ...(options.verifyKey ?? [])];
  if (keys.length > 0 && options.policy) throw new KilnError(ErrorCodes.USAGE, 'give keys or a policy, not both');
  if (options.policy) return { policy: await loadPolicy(options.policy) };
  if (keys.length > 0) return { keys: await loadTrustedKeys(keys) };
  return undefined;
}
