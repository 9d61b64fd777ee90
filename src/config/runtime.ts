import { z } from 'zod';
import { KilnError, ErrorCodes } from '../errors.js';

/**
 * The runtime config: everything that differs between two instances of one image (args,
 * environment, hostname, network). It is never baked in; `launch` validates it, then hands it
 * to the guest as /kiln/runtime.conf (see docs/guest-contract.md). This zod schema is the only
 * description of it: types, validation and the published JSON Schema all come from here.
 */
export const RUNTIME_CONFIG_VERSION = 1;

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name');
const noNul = z.string().refine((s) => !s.includes('\0'), 'must not contain NUL characters');
const absolutePath = noNul.refine((s) => s.startsWith('/'), 'must be an absolute guest path');
const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'must be an IPv4 address');
const cidr = z
  .string()
  .regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/, 'must be an IPv4 address with a prefix length, e.g. 10.0.2.15/24');
const hostname = z
  .string()
  .regex(/^(?=.{1,63}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/, 'must be 1-63 letters, digits or hyphens');

export const InterfaceSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9]{0,14}$/, 'must be an interface name like eth0').describe('Guest interface name'),
    address: cidr.optional().describe('Static IPv4 address with prefix length (or use dhcp)'),
    dhcp: z.boolean().optional().describe('Let the init shim get the address, gateway and name servers by DHCP'),
    gateway: ipv4.optional().describe('Default route via this address'),
    mtu: z.number().int().min(68).max(65535).optional(),
    optional: z
      .boolean()
      .optional()
      .describe(
        'Best effort: if this interface cannot be set up (no such NIC, no DHCP answer), the init shim warns on the console and starts the app anyway. Without it a failed set-up is an init error. The defaults baked into standalone images (efi, disk, xen, libvirt) set it; a network asked for at launch does not',
      ),
  })
  .strict()
  .refine((iface) => (iface.address !== undefined) !== (iface.dhcp === true), {
    message: 'give either a static address or dhcp: true (not both, not neither)',
  });

/**
 * A volume: a host directory (copied into a fresh ext4 image at launch) or an existing ext4
 * image file, attached as a virtio-blk disk and mounted by the shim at `target`.
 */
export const VolumeSchema = z
  .object({
    source: noNul.min(1).describe('Host directory or ext4 image file (relative paths are resolved by the caller)'),
    target: absolutePath.refine((s) => s !== '/' && s !== '/kiln' && !s.startsWith('/kiln/') && !/(^|\/)\.\.?(\/|$)/.test(s), 'must not be /, under /kiln, or contain . or .. parts').describe('Mount point in the guest'),
    readOnly: z.boolean().optional().describe('Mount read-only (the disk is read-only to the guest, too)'),
  })
  .strict();

export const RuntimeConfigSchema = z
  .object({
    version: z.literal(RUNTIME_CONFIG_VERSION).describe('Runtime config format version'),
    args: z.array(noNul).optional().describe("Arguments after argv[0]; replace the image's default arguments"),
    env: z.record(envName, noNul).optional().describe("Environment variables, merged over the image's defaults"),
    workdir: absolutePath.optional().describe('Working directory of the app'),
    hostname: hostname.optional().describe('Guest hostname'),
    network: z
      .object({
        interfaces: z.array(InterfaceSchema).default([]),
        dns: z.array(ipv4).default([]).describe('Name servers written to /etc/resolv.conf'),
      })
      .strict()
      .optional(),
    volumes: z.array(VolumeSchema).optional().describe('Disks to attach and mount, in order'),
    verbose: z.boolean().optional().describe('Let the init shim log each step to the console'),
  })
  .strict()
  .superRefine((config, ctx) => {
    const names = new Set<string>();
    config.network?.interfaces.forEach((iface, index) => {
      if (names.has(iface.name)) {
        ctx.addIssue({ code: 'custom', path: ['network', 'interfaces', index, 'name'], message: `interface ${iface.name} is listed twice` });
      }
      names.add(iface.name);
    });
    const targets = new Set<string>();
    config.volumes?.forEach((volume, index) => {
      if (targets.has(volume.target)) {
        ctx.addIssue({ code: 'custom', path: ['volumes', index, 'target'], message: `${volume.target} is mounted twice` });
      }
      targets.add(volume.target);
    });
  });

export type RuntimeConfig = z.infer<typeof RuntimeConfigSchema>;
export type Volume = z.infer<typeof VolumeSchema>;

/** Validates unknown input; every problem is reported with its dot path. */
export function parseRuntimeConfig(input: unknown, source = 'runtime config'): RuntimeConfig {
  const result = RuntimeConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);
  throw new KilnError(ErrorCodes.CONFIG_INVALID, `${source} is invalid (${details.length} problem${details.length === 1 ? '' : 's'})`, {
    details,
    hint: 'see `kiln config schema` for the format',
  });
}

/** The JSON Schema published for editors and other tools, generated from the zod schema. */
export function runtimeConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(RuntimeConfigSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
}
