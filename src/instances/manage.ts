import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes, isKilnError } from '../errors.js';
import { loadImage } from '../image/manifest.js';
import type { LaunchRequest } from '../launch/launch.js';
import { assertPortsFree } from '../launch/ports.js';
import { QmpClient } from '../launch/qmp.js';
import { checkVolumeSources } from '../volumes/image.js';
import { withLock } from './lock.js';
import { isAlive, selfRef, signalIfAlive } from '../util/proc.js';
import {
  assertInstanceName,
  instanceDir,
  instancesRoot,
  lockPath,
  now,
  readSpec,
  readStatus,
  writeSpec,
  writeStatus,
  InstanceRequestSchema,
  type InstanceSpec,
  type InstanceStatus,
  type RestartPolicy,
} from './store.js';

/** What `kiln launch -d` asks for: a launch request without its streams and signals. */
export type DetachedRequest = Omit<LaunchRequest, 'console' | 'stopSignal' | 'killSignal' | 'consoleLogPath' | 'runDirParent' | 'volumeImageDir'>;

export interface InstanceInfo {
  name: string;
  dir: string;
  spec: InstanceSpec;
  status: InstanceStatus;
}

/** An instance whose files could not be read: listed by `ps` with the reason, never a crash. */
export interface BrokenInstance {
  name: string;
  dir: string;
  error: KilnError;
}

/** How old a directory without spec.json must be before it counts as abandoned. */
const ORPHAN_DIR_MS = 10_000;

const ACTIVE = new Set(['created', 'running', 'restarting']);
export const isActive = (status: InstanceStatus) => ACTIVE.has(status.state);

const SUPERVISOR = fileURLToPath(new URL('./supervisor-main.js', import.meta.url));

/**
 * Creates an instance and starts its supervisor, then waits until QEMU is up (or the launch
 * failed: the supervisor's error is rethrown here). The name is claimed by mkdir, which is
 * atomic: of two commands asking for one name, exactly one wins.
 */
export async function createInstance(
  ctx: Context,
  request: DetachedRequest & { name?: string; restart?: RestartPolicy },
  startTimeoutMs = 180_000,
): Promise<InstanceInfo> {
  const name = request.name ?? `kiln-${randomBytes(3).toString('hex')}`;
  assertInstanceName(name);
  const { name: _name, restart = { policy: 'no' }, ...launchRequest } = request;
  const image = resolve(launchRequest.imageDir);
  await loadImage(image); // a missing or broken image is reported before anything is created
  await assertPortsFree(launchRequest.ports ?? []);
  const volumes = (launchRequest.volumes ?? []).map((volume) => ({ ...volume, source: resolve(volume.source) }));
  await checkVolumeSources(volumes);

  const dir = instanceDir(ctx, name);
  await mkdir(instancesRoot(ctx), { recursive: true });
  try {
    await mkdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new KilnError(ErrorCodes.INSTANCE_EXISTS, `an instance named "${name}" already exists`, {
      hint: `pick another --name, or remove it first with: kiln rm ${name}`,
    });
  }
  const spec: InstanceSpec = {
    version: 1,
    name,
    createdAt: now(),
    image,
    restart,
    request: InstanceRequestSchema.parse(JSON.parse(JSON.stringify({ ...launchRequest, imageDir: image, ...(volumes.length ? { volumes } : {}) }))),
  };
  await withLock(lockPath(ctx, name), `instance ${name}`, async () => {
    await writeSpec(dir, spec);
    await writeStatus(dir, { state: 'created', creator: selfRef(), restarts: 0, updatedAt: now() });
  });

  const log = await open(`${dir}/supervisor.log`, 'a');
  try {
    const child = spawn(process.execPath, [SUPERVISOR, ctx.paths.cache, ctx.paths.state, dir], {
      detached: true, // its own session: a Ctrl-C or hang-up of this terminal does not reach it
      stdio: ['ignore', log.fd, log.fd],
      env: ctx.env,
    });
    child.unref();
  } finally {
    await log.close();
  }

  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    const info = await inspectInstance(ctx, name);
    if (info.status.state === 'failed' && info.status.error) {
      const { code, message, hint, details } = info.status.error;
      throw new KilnError(code as KilnError['code'], `instance ${name} could not start: ${message}`, {
        hint: `${hint ? `${hint}; ` : ''}the failed instance is kept for inspection (kiln inspect ${name}); remove it with: kiln rm ${name}`,
        ...(details ? { details } : {}),
      });
    }
    // QEMU answers on its control socket only after every device (port forwards included) was
    // set up: a QEMU that is about to fail on its own arguments is not reported as up. An
    // engine without one (xl) is up once its process is.
    if (info.status.state === 'running' && (info.status.qmpSocket ? await qemuAnswers(info.status.qmpSocket) : info.status.qemu)) return inspectInstance(ctx, name);
    if (info.status.state !== 'created' && info.status.state !== 'running') return info;
    if (Date.now() > deadline) {
      throw new KilnError(ErrorCodes.VM_TIMEOUT, `instance ${name} did not start within ${startTimeoutMs / 1000}s`, {
        hint: `see ${dir}/supervisor.log and ${dir}/events.ndjson; kiln rm -f ${name} removes it`,
      });
    }
    await sleep(100);
  }
}

/**
 * Reads an instance and makes its status true: an active status whose supervisor (or, before
 * that, creating command) is gone is rewritten as failed, under the instance's lock.
 */
export async function inspectInstance(ctx: Context, name: string): Promise<InstanceInfo> {
  assertInstanceName(name);
  const dir = instanceDir(ctx, name);
  const spec = await readSpec(dir).catch(async (error: unknown) => {
    if (isKilnError(error, ErrorCodes.INSTANCE_STATE_CORRUPT) && (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      // A directory without spec.json: being created right now, or its creator was killed
      // between claiming the name and writing the spec (then it is old).
      const made = await stat(dir).catch(() => undefined);
      if (made && Date.now() - made.mtimeMs > ORPHAN_DIR_MS) {
        throw new KilnError(ErrorCodes.INSTANCE_STATE_CORRUPT, `instance directory ${dir} has no spec.json (kiln was interrupted while creating it)`, {
          hint: `remove it with: kiln rm -f ${name}`,
        });
      }
      throw new KilnError(ErrorCodes.INSTANCE_NOT_FOUND, `no instance named "${name}"`, { hint: 'list instances with: kiln ps' });
    }
    throw error;
  });
  let status = await readStatus(dir);
  if (orphaned(status)) {
    status = await withLock(lockPath(ctx, name), `instance ${name}`, async () => {
      const current = await readStatus(dir);
      if (!orphaned(current)) return current;
      // QEMU dies with its supervisor (parent-death signal); make sure of it anyway.
      signalIfAlive(current.qemu, 'SIGKILL');
      const why = current.supervisor
        ? `the instance's supervisor (pid ${current.supervisor.pid}) ended without recording how the VM ended (it was killed?)`
        : 'the kiln command creating the instance was interrupted before the VM started';
      const { qemu: _q, qmpSocket: _s, ...rest } = current;
      const fixed: InstanceStatus = { ...rest, state: 'failed', error: { code: ErrorCodes.VM_FAILED, message: why }, finishedAt: now(), updatedAt: now() };
      await writeStatus(dir, fixed);
      return fixed;
    });
  }
  return { name, dir, spec, status };
}

function orphaned(status: InstanceStatus): boolean {
  if (!isActive(status)) return false;
  if (status.supervisor) return !isAlive(status.supervisor);
  return !isAlive(status.creator);
}

export async function listInstances(ctx: Context): Promise<(InstanceInfo | BrokenInstance)[]> {
  const names = await readdir(instancesRoot(ctx)).catch(() => [] as string[]);
  const result: (InstanceInfo | BrokenInstance)[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    try {
      result.push(await inspectInstance(ctx, name));
    } catch (error) {
      if (isKilnError(error, ErrorCodes.INSTANCE_NOT_FOUND)) continue; // being created or removed right now
      if (!isKilnError(error)) throw error;
      result.push({ name, dir: instanceDir(ctx, name), error });
    }
  }
  return result;
}

export interface StopResult {
  name: string;
  /** false: it was not running. */
  stopped: boolean;
  forced: boolean;
  status: InstanceStatus;
}

/**
 * Graceful stop: the supervisor presses the ACPI power button (the shim sends SIGTERM to the
 * app) and kills QEMU after the stop timeout. `timeoutSeconds` (default: the instance's own
 * --stop-timeout) bounds the wait here too; past it, and a grace period, kiln kills outright.
 */
export async function stopInstance(ctx: Context, name: string, options: { kill?: boolean; timeoutSeconds?: number } = {}): Promise<StopResult> {
  let info = await inspectInstance(ctx, name);
  if (!isActive(info.status)) return { name, stopped: false, forced: false, status: info.status };
  const specTimeout = info.spec.request.stopTimeoutSeconds ?? 10;
  const timeout = options.timeoutSeconds ?? specTimeout;
  const supervisor = info.status.supervisor;
  let forced = options.kill === true;
  signalIfAlive(supervisor, options.kill ? 'SIGUSR1' : 'SIGTERM');
  if (options.kill || !(await waitGone(supervisor, timeout * 1000))) {
    forced = true;
    // The supervisor kills QEMU and records the end; if it cannot within 5 s, kill both.
    signalIfAlive(supervisor, 'SIGUSR1');
    if (!(await waitGone(supervisor, 5000))) {
      signalIfAlive(info.status.qemu, 'SIGKILL');
      signalIfAlive(supervisor, 'SIGKILL');
      await waitGone(supervisor, 5000);
    }
  }
  info = await inspectInstance(ctx, name);
  return { name, stopped: true, forced, status: info.status };
}

async function waitGone(ref: InstanceStatus['supervisor'], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(ref)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Removes an instance's files. A running one is refused unless `force` (then it is killed first). */
export async function removeInstance(ctx: Context, name: string, options: { force?: boolean } = {}): Promise<void> {
  assertInstanceName(name);
  const dir = instanceDir(ctx, name);
  let info: InstanceInfo | undefined;
  try {
    info = await inspectInstance(ctx, name);
  } catch (error) {
    // A damaged instance can only be removed with --force: its processes cannot be known.
    if (!(options.force && isKilnError(error, ErrorCodes.INSTANCE_STATE_CORRUPT))) throw error;
  }
  if (info && isActive(info.status)) {
    if (!options.force) {
      throw new KilnError(ErrorCodes.INSTANCE_RUNNING, `instance ${name} is ${info.status.state}`, {
        hint: `stop it first (kiln stop ${name}), or remove it anyway with: kiln rm -f ${name}`,
      });
    }
    await stopInstance(ctx, name, { kill: true });
  }
  await withLock(lockPath(ctx, name), `instance ${name}`, async () => {
    if (info) {
      const current = await readStatus(dir).catch(() => undefined);
      if (current && isActive(current) && !options.force) {
        throw new KilnError(ErrorCodes.INSTANCE_RUNNING, `instance ${name} was started again meanwhile`, { hint: `kiln stop ${name}` });
      }
    }
    await rm(dir, { recursive: true, force: true });
  });
}

async function qemuAnswers(socketPath: string): Promise<boolean> {
  try {
    const qmp = await QmpClient.connect(socketPath, 2000);
    qmp.close();
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
