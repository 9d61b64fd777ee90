import { copyFile } from 'node:fs/promises';
import { KilnError, ErrorCodes } from '../../errors.js';
import { exists } from '../../util/fs.js';

/**
 * Debian's OVMF (package ovmf): the 2 MiB build without Secure Boot, code and variable store.
 * The variable store is copied per VM, since firmware writes to it (boot entries).
 */
export const OVMF = { code: '/usr/share/OVMF/OVMF_CODE.fd', vars: '/usr/share/OVMF/OVMF_VARS.fd' } as const;

/** Every reason UEFI boot is impossible here; empty when OVMF is installed. */
export async function ovmfProblems(): Promise<string[]> {
  const problems: string[] = [];
  for (const path of [OVMF.code, OVMF.vars]) {
    const present = await exists(path);
    if (!present) problems.push(`no OVMF UEFI firmware (${path} missing; Debian package ovmf)`);
  }
  return problems;
}

export async function copyOvmfVars(to: string): Promise<void> {
  const problems = await ovmfProblems();
  if (problems.length > 0) {
    throw new KilnError(ErrorCodes.TARGET_UNAVAILABLE, 'UEFI boot needs OVMF, which is not installed', { details: problems, hint: 'apt-get install ovmf' });
  }
  await copyFile(OVMF.vars, to);
}
