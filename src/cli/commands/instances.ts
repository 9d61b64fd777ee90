import { stat } from 'node:fs/promises';
import type { Context } from '../../context.js';
import { INSTANCE_NAME } from '../../instances/store.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import { instanceLogs } from '../../instances/logs.js';
import { inspectInstance, listInstances, removeInstance, stopInstance, type InstanceInfo } from '../../instances/manage.js';
import { describeExit } from '../../launch/status.js';
import type { OutputMode } from '../render.js';
import { parsePositiveInt } from '../parse.js';

/** Thin commands over src/instances: everything here is formatting. */

export async function psCommand(ctx: Context, options: { all?: boolean }, mode: OutputMode): Promise<number> {
  const all = await listInstances(ctx);
  if (mode === 'json') {
    for (const item of all) {
      process.stdout.write(JSON.stringify('error' in item ? { name: item.name, dir: item.dir, error: item.error.toJSON() } : summary(item)) + '\n');
    }
    return 0;
  }
  const rows = [['NAME', 'STATE', 'PID', 'PORTS', 'STARTED', 'STATUS']];
  for (const item of all) {
    if ('error' in item) {
      rows.push([item.name, 'broken', '-', '-', '-', `${item.error.message}`]);
      continue;
    }
    const s = summary(item);
    if (!options.all && s.state !== 'running' && s.state !== 'restarting' && s.state !== 'created') continue;
    rows.push([s.name, s.state, s.pid ? String(s.pid) : '-', s.ports || '-', s.startedAt ?? '-', s.description]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) process.stdout.write(row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ') + '\n');
  return 0;
}

function summary(info: InstanceInfo) {
  const request = info.spec.request;
  const ports = (request.ports ?? []).map((p) => `${p.hostAddress}:${p.hostPort}->${p.guestPort}/${p.protocol}`).join(', ');
  const { status } = info;
  const description =
    status.state === 'running'
      ? `up${status.restarts ? `, restarted ${status.restarts}x` : ''}`
      : status.error
        ? status.error.message
        : status.exit
          ? describeExit(status.exit)
          : status.state;
  return { name: info.name, state: status.state, pid: status.qemu?.pid, ports, startedAt: status.startedAt, exitCode: status.exitCode, restarts: status.restarts, description, image: info.spec.image };
}

export async function logsCommand(ctx: Context, name: string, options: { follow?: boolean }): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    await instanceLogs(ctx, name, process.stdout, { follow: options.follow ?? false, signal: controller.signal });
  } finally {
    process.off('SIGINT', onSignal);
  }
  return 0;
}

export async function stopCommand(ctx: Context, names: string[], options: { time?: string; kill?: boolean }): Promise<number> {
  const timeoutSeconds = options.time === undefined ? undefined : parsePositiveInt(options.time, '--time');
  return forEachInstance(ctx, names, async (name) => {
    const result = await stopInstance(ctx, name, { ...(options.kill ? { kill: true } : {}), ...(timeoutSeconds ? { timeoutSeconds } : {}) });
    const how = !result.stopped ? 'was not running' : result.status.exit ? describeExit(result.status.exit) : result.status.state;
    ctx.reporter.emit({ type: 'info', message: `${name}: ${how}` });
  });
}

export async function rmCommand(ctx: Context, names: string[], options: { force?: boolean }): Promise<number> {
  return forEachInstance(ctx, names, (name) => removeInstance(ctx, name, { force: options.force ?? false }));
}

/**
 * Runs `action` for each named instance and prints each name it succeeded for, as docker does.
 * With one name its error is the command's error; with several, a failure is a warning and the
 * others still run (exit status 1).
 */
async function forEachInstance(ctx: Context, names: string[], action: (name: string) => Promise<unknown>): Promise<number> {
  let failures = 0;
  for (const name of names) {
    try {
      await action(name);
      process.stdout.write(`${name}\n`);
    } catch (error) {
      if (names.length === 1) throw error;
      ctx.reporter.emit({ type: 'warning', code: (error as KilnError).code ?? ErrorCodes.INTERNAL, message: `${name}: ${(error as Error).message}` });
      failures++;
    }
  }
  return failures ? 1 : 0;
}

export async function inspectInstanceCommand(ctx: Context, name: string): Promise<number> {
  const info = await inspectInstance(ctx, name);
  process.stdout.write(JSON.stringify({ name: info.name, dir: info.dir, spec: info.spec, status: info.status }, null, 2) + '\n');
  return 0;
}

export function assertNotInstanceOnly(options: { name?: string; restart?: string }): void {
  if (options.name !== undefined || options.restart !== undefined) {
    throw new KilnError(ErrorCodes.USAGE, '--name and --restart apply to managed instances', { hint: 'add -d to run the image as an instance' });
  }
}

/**
 * `kiln inspect X`: an image directory when X is a path (has a '/' or names a directory that
 * is not also an instance), otherwise an instance.
 */
export async function inspectAnyCommand(ctx: Context, target: string, inspectImage: (dir: string) => Promise<number>): Promise<number> {
  const looksLikeName = INSTANCE_NAME.test(target) && !target.includes('/');
  if (looksLikeName) {
    try {
      return await inspectInstanceCommand(ctx, target);
    } catch (error) {
      const isDir = await stat(target).then((info) => info.isDirectory(), () => false);
      if (!(error instanceof KilnError && error.code === ErrorCodes.INSTANCE_NOT_FOUND && isDir)) throw error;
    }
  }
  return inspectImage(target);
}
