import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { RuntimeConfig } from '../config/runtime.js';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { writeFileAtomically } from '../util/fs.js';

/**
 * On-disk layout of one instance, under <state>/instances/<name>/:
 *   spec.json      what was asked (written once, at creation)
 *   status.json    what was observed (rewritten atomically by the supervisor, or by a command
 *                  that finds the supervisor gone)
 *   console.log    the guest console, written by QEMU (appended to across restarts)
 *   events.ndjson  the supervisor's events (accelerator choice, VM start/exit, warnings)
 *   supervisor.log the supervisor's own stderr (empty unless kiln itself failed)
 *   volumes/       ext4 images made from host directories (kept across restarts)
 *   kiln-run-XXXXXX/ the current run's initrd, status channel and qmp.sock
 * Locks live apart, in <state>/instances/.locks/<name>.lock, so removing an instance's
 * directory never removes a lock someone holds.
 */
export const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export const RestartPolicySchema = z.object({ policy: z.enum(['no', 'on-failure']), maxRetries: z.number().int().min(0).optional() }).strict();
export type RestartPolicy = z.infer<typeof RestartPolicySchema>;

const ProcessRefSchema = z.object({ pid: z.number().int().positive(), start: z.number().int().min(0) }).strict();

const HostForwardSchema = z.object({ protocol: z.enum(['tcp', 'udp']), hostAddress: z.string(), hostPort: z.number().int(), guestPort: z.number().int() }).strict();
const TapRequestSchema = z
  .object({ ifname: z.string(), address: z.string().optional(), gateway: z.string().optional(), dhcp: z.boolean().optional(), mtu: z.number().int().optional() })
  .strict();
const VolumeRequestSchema = z.object({ source: z.string(), target: z.string(), readOnly: z.boolean().optional() }).strict();

/**
 * The launch request an instance was created with (src/launch/types.ts, less its streams,
 * signals and run-time paths), as stored in spec.json. The runtime config inside is checked
 * again, in full, when the instance is launched.
 */
export const InstanceRequestSchema = z
  .object({
    imageDir: z.string(),
    config: z.custom<Partial<RuntimeConfig>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), 'must be a runtime config object').optional(),
    args: z.array(z.string()).optional(),
    env: z.record(z.string(), z.string()).optional(),
    hostname: z.string().optional(),
    memoryMiB: z.number().int().optional(),
    cpus: z.number().int().optional(),
    accel: z.enum(['auto', 'kvm', 'tcg']).optional(),
    firmware: z.enum(['bios', 'uefi']).optional(),
    network: z.enum(['user', 'none']).optional(),
    ports: z.array(HostForwardSchema).optional(),
    taps: z.array(TapRequestSchema).optional(),
    dns: z.array(z.string()).optional(),
    volumes: z.array(VolumeRequestSchema).optional(),
    timeoutSeconds: z.number().optional(),
    stopTimeoutSeconds: z.number().optional(),
    verbose: z.boolean().optional(),
    gdb: z.object({ address: z.string(), port: z.number().int() }).strict().optional(),
  })
  .strict();
export type InstanceRequest = z.infer<typeof InstanceRequestSchema>;

export const InstanceSpecSchema = z
  .object({
    version: z.literal(1),
    name: z.string().regex(INSTANCE_NAME),
    createdAt: z.string(),
    image: z.string(),
    restart: RestartPolicySchema,
    /** The launch request (JSON-safe part: no streams or signals) as the user's command made it. */
    request: InstanceRequestSchema,
  })
  .strict();
export type InstanceSpec = z.infer<typeof InstanceSpecSchema>;

export const INSTANCE_STATES = ['created', 'running', 'restarting', 'exited', 'failed'] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

const ExitReportSchema = z.union([
  z.object({ kind: z.literal('exited'), code: z.number() }),
  z.object({ kind: z.literal('signaled'), signal: z.string(), number: z.number() }),
  z.object({ kind: z.literal('init-error'), message: z.string() }),
  z.object({ kind: z.literal('crashed'), message: z.string() }),
  z.object({ kind: z.literal('timeout'), seconds: z.number() }),
  z.object({ kind: z.literal('stopped'), forced: z.boolean() }),
]);

export const InstanceStatusSchema = z
  .object({
    state: z.enum(INSTANCE_STATES),
    /** The kiln command that created the instance (until the supervisor takes over). */
    creator: ProcessRefSchema.optional(),
    supervisor: ProcessRefSchema.optional(),
    qemu: ProcessRefSchema.optional(),
    qmpSocket: z.string().optional(),
    accel: z.enum(['kvm', 'tcg']).optional(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    exit: ExitReportSchema.optional(),
    exitCode: z.number().int().optional(),
    restarts: z.number().int().min(0),
    stopRequested: z.boolean().optional(),
    error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional(), details: z.array(z.string()).optional() }).optional(),
    updatedAt: z.string(),
  })
  .strict();
export type InstanceStatus = z.infer<typeof InstanceStatusSchema>;

export const instancesRoot = (ctx: Context) => join(ctx.paths.state, 'instances');
export const instanceDir = (ctx: Context, name: string) => join(instancesRoot(ctx), name);
export const lockPath = (ctx: Context, name: string) => join(instancesRoot(ctx), '.locks', `${name}.lock`);
export const specPath = (dir: string) => join(dir, 'spec.json');
export const statusPath = (dir: string) => join(dir, 'status.json');
export const consolePath = (dir: string) => join(dir, 'console.log');

export function assertInstanceName(name: string): void {
  if (!INSTANCE_NAME.test(name)) {
    throw new KilnError(ErrorCodes.USAGE, `invalid instance name "${name}"`, {
      hint: 'use 1-63 letters, digits, _, . or -, starting with a letter or digit',
    });
  }
}

async function readJson<T>(path: string, schema: z.ZodType<T>, what: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new KilnError(ErrorCodes.INSTANCE_STATE_CORRUPT, `the ${what} ${path} cannot be read (${(error as NodeJS.ErrnoException).code})`, {
      cause: error,
      hint: 'the instance directory is damaged; `kiln rm -f NAME` removes it',
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new KilnError(ErrorCodes.INSTANCE_STATE_CORRUPT, `the ${what} ${path} is not valid JSON`, {
      cause: error,
      details: [(error as Error).message],
      hint: 'the file was damaged outside kiln (kiln writes it atomically); `kiln rm -f NAME` removes the instance',
    });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new KilnError(ErrorCodes.INSTANCE_STATE_CORRUPT, `the ${what} ${path} does not have the expected fields`, {
      details: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
      hint: 'it may come from another kiln version or have been edited; `kiln rm -f NAME` removes the instance',
    });
  }
  return parsed.data;
}

export const readSpec = (dir: string) => readJson(specPath(dir), InstanceSpecSchema, 'instance spec');
export const readStatus = (dir: string) => readJson(statusPath(dir), InstanceStatusSchema, 'instance status');

export async function writeSpec(dir: string, spec: InstanceSpec): Promise<void> {
  await writeFileAtomically(specPath(dir), JSON.stringify(spec, null, 2) + '\n');
}

export async function writeStatus(dir: string, status: InstanceStatus): Promise<void> {
  await writeFileAtomically(statusPath(dir), JSON.stringify(status, null, 2) + '\n');
}

export const now = () => new Date().toISOString();
