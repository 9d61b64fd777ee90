import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Context } from '../../context.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import { parseReference, type Reference } from '../../oci/reference.js';
import { push } from '../../oci/push.js';
import { pull } from '../../oci/pull.js';
import { RegistryClient, type ClientOptions } from '../../oci/client.js';
import { eraseCredential, storeCredential } from '../../oci/credentials.js';
import type { OutputMode } from '../render.js';
import { loadSigningKey, signatureCheck, signImage } from '../../signing/index.js';
import { signatureRequirement, type RawVerifyOptions } from './verify-flags.js';

/** `--insecure` and `--ca-cert`, shared by every command that talks to a registry. */
export function addRegistryOptions(command: Command): Command {
  return command
    .option('--insecure', "speak plain HTTP to this command's registry (only that one); without it, HTTPS (a registry on 127.0.0.1/localhost may answer plain HTTP)")
    .option('--ca-cert <file>', "a PEM file of CA certificates to trust for the registry's TLS certificate, besides the system's");
}

export interface RawRegistryOptions {
  insecure?: boolean;
  caCert?: string;
}

export async function clientOptions(ref: Reference, options: RawRegistryOptions): Promise<ClientOptions> {
  let caCert: string | undefined;
  if (options.caCert) {
    caCert = await readFile(options.caCert, 'utf8').catch((error: unknown) => {
      throw new KilnError(ErrorCodes.USAGE, `cannot read --ca-cert ${options.caCert}`, { cause: error });
    });
    if (!caCert.includes('-----BEGIN CERTIFICATE-----')) throw new KilnError(ErrorCodes.USAGE, `--ca-cert ${options.caCert} holds no PEM certificate`);
  }
  return { ...(options.insecure ? { insecure: [ref.registry] } : {}), ...(caCert ? { caCert } : {}) };
}

export interface RawPushOptions extends RawRegistryOptions {
  platform?: string;
  signKey?: string;
  containerdisk?: boolean;
  source?: string;
  sbom?: boolean;
}

/** `kiln push IMAGE... REF`: prints the pushed digest on stdout. */
export async function pushCommand(ctx: Context, args: string[], options: RawPushOptions, mode: OutputMode): Promise<number> {
  if (args.length < 2) throw new KilnError(ErrorCodes.USAGE, 'kiln push needs an image and a reference', { hint: 'kiln push hello.img localhost:5000/me/hello:1.0' });
  const reference = parseReference(args[args.length - 1]!);
  // The key is read (and its password asked) before anything is uploaded.
  const signingKey = options.signKey ? await loadSigningKey(options.signKey, ctx.env) : undefined;
  const client = await clientOptions(reference, options);
  const result = await push(ctx, {
    images: args.slice(0, -1),
    reference,
    ...(options.platform ? { platforms: options.platform.split(',') } : {}),
    ...(options.source ? { source: options.source } : {}),
    sbomReferrer: options.sbom !== false,
    containerdisk: options.containerdisk === true,
    client,
  });
  if (signingKey) await signImage(ctx, { ...reference, digest: result.digest }, signingKey, client, { mediaType: result.mediaType, digest: result.digest, size: result.size });
  if (mode === 'json') process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write(`${result.digest}\n`);
  return 0;
}

/** `kiln pull REF`: prints the image directory in the store on stdout. */
export async function pullCommand(ctx: Context, ref: string, options: RawRunPullOptions, mode: OutputMode): Promise<number> {
  const result = await pullVerified(ctx, ref, options);
  if (mode === 'json') process.stdout.write(JSON.stringify({ digest: result.digest, manifestDigest: result.manifestDigest, dir: result.dir, cached: result.cached, fetchedBytes: result.fetchedBytes }) + '\n');
  else process.stdout.write(`${result.dir}\n`);
  return 0;
}

/** `linux/arm64` or `arm64` or `aarch64` → the arch an index entry is chosen by. */
export function platformArch(platform: string): string {
  const arch = platform.includes('/') ? platform.split('/')[1]! : platform;
  return arch;
}

/** `kiln login HOST -u USER --password-stdin`: checks the credential against the registry, then stores it. */
export async function loginCommand(ctx: Context, registry: string, options: RawRegistryOptions & { username?: string; passwordStdin?: boolean }): Promise<number> {
  if (!options.username) throw new KilnError(ErrorCodes.USAGE, 'kiln login needs -u USER', { hint: `echo "$PASSWORD" | kiln login ${registry} -u USER --password-stdin` });
  if (!options.passwordStdin) throw new KilnError(ErrorCodes.USAGE, 'kiln login reads the password from stdin only (--password-stdin), so it never appears in a process list or shell history');
  const password = (await readStdin()).replace(/\r?\n$/, '');
  if (!password) throw new KilnError(ErrorCodes.USAGE, 'no password on stdin');
  const reference = parseReference(`${registry}/x`);
  const credential = { username: options.username, password };
  const client = new RegistryClient(reference.registry, { ...(await clientOptions(reference, options)), credential, env: ctx.env });
  try {
    await client.ping();
  } finally {
    await client.close();
  }
  const { where } = await storeCredential(reference.registry, credential, ctx.env);
  ctx.reporter.emit({ type: 'info', message: `logged in to ${reference.registry} as ${options.username} (stored in ${where})` });
  return 0;
}

export async function logoutCommand(ctx: Context, registry: string): Promise<number> {
  const reference = parseReference(`${registry}/x`);
  const erased = await eraseCredential(reference.registry, ctx.env);
  ctx.reporter.emit({ type: 'info', message: erased ? `removed the credential for ${reference.registry}` : `no credential was stored for ${reference.registry}` });
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface RawRunPullOptions extends RawRegistryOptions, RawVerifyOptions {
  platform?: string;
}

/** Pull, with the signature requirement of --verify-key/--policy checked by digest before any layer is fetched. */
async function pullVerified(ctx: Context, ref: string, options: RawRunPullOptions) {
  const reference = parseReference(ref);
  const requirement = await signatureRequirement(options);
  return pull(ctx, {
    reference,
    ...(options.platform ? { arch: platformArch(options.platform) } : {}),
    client: await clientOptions(reference, options),
    ...(requirement ? { beforeFetch: signatureCheck(ctx, reference, requirement) } : {}),
  });
}

/** `kiln run REF`: the reference pulled into the store (no network for a digest already there, unless a signature is required); returns the image directory. */
export async function pulledImageForRun(ctx: Context, ref: string, options: RawRunPullOptions): Promise<string> {
  return (await pullVerified(ctx, ref, options)).dir;
}

