import { access } from 'node:fs/promises';
import type { Context } from '../../context.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import { parseReference } from '../../oci/reference.js';
import { writeFileAtomically } from '../../util/fs.js';
import { describe, generateKeyPair, keyPassword, loadSigningKey, signImage, verifyImage } from '../../signing/index.js';
import { clientOptions, type RawRegistryOptions } from './registry.js';
import type { OutputMode } from '../render.js';
import { signatureRequirement, type RawVerifyOptions } from './verify-flags.js';

export { addVerifyOptions, signatureRequirement, type RawVerifyOptions } from './verify-flags.js';

/** `kiln key generate -o kiln.key`: writes kiln.key (encrypted) and kiln.pub; refuses to overwrite. */
export async function keyGenerateCommand(ctx: Context, options: { output?: string }): Promise<number> {
  const privatePath = options.output ?? 'kiln.key';
  const publicPath = privatePath.endsWith('.key') ? `${privatePath.slice(0, -4)}.pub` : `${privatePath}.pub`;
  for (const path of [privatePath, publicPath]) {
    if (await access(path).then(() => true, () => false)) throw new KilnError(ErrorCodes.OUTPUT_EXISTS, `${path} exists`, { hint: 'choose another -o, or remove it first (a key is never overwritten)' });
  }
  const pair = await generateKeyPair(await keyPassword(ctx.env, true));
  await writeFileAtomically(privatePath, pair.privatePem, 0o600);
  await writeFileAtomically(publicPath, pair.publicPem, 0o644);
  ctx.reporter.emit({ type: 'info', message: `private key written to ${privatePath}, public key to ${publicPath}` });
  return 0;
}

/** `kiln sign REF --key kiln.key`: prints the signed digest. */
export async function signCommand(ctx: Context, ref: string, options: RawRegistryOptions & { key?: string }, mode: OutputMode): Promise<number> {
  if (!options.key) throw new KilnError(ErrorCodes.USAGE, 'kiln sign needs --key', { hint: 'kiln sign REF --key kiln.key (make one with kiln key generate)' });
  const reference = parseReference(ref);
  const key = await loadSigningKey(options.key, ctx.env);
  const result = await signImage(ctx, reference, key, await clientOptions(reference, options));
  process.stdout.write(mode === 'json' ? JSON.stringify(result) + '\n' : `${result.digest}\n`);
  return 0;
}

/** `kiln verify REF --key kiln.pub`: exit 0 and the digest when a signature verifies, a coded error otherwise. */
export async function verifyCommand(ctx: Context, ref: string, options: RawRegistryOptions & RawVerifyOptions, mode: OutputMode): Promise<number> {
  const requirement = await signatureRequirement(options);
  if (!requirement) throw new KilnError(ErrorCodes.USAGE, 'kiln verify needs --key or --policy', { hint: 'kiln verify REF --key kiln.pub' });
  const reference = parseReference(ref);
  const result = await verifyImage(ctx, reference, requirement, await clientOptions(reference, options));
  if (mode === 'json') process.stdout.write(JSON.stringify(result) + '\n');
  else {
    process.stdout.write(`${result.digest}\n`);
    ctx.reporter.emit({ type: 'info', message: result.signatures.length > 0 ? `${reference.registry}/${reference.repository}@${result.digest}: ${describe(result.signatures)}` : 'the policy accepts this image without a signature' });
  }
  return 0;
}
