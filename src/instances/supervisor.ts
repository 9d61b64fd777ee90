import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { createContext, type Context } from '../context.js';
import { ErrorCodes, isKilnError } from '../errors.js';
import type { KilnEvent } from '../events.js';
import { launch } from '../launch/launch.js';
import { refOf, selfRef } from '../util/proc.js';
import { consolePath, now, readSpec, readStatus, writeStatus, type InstanceStatus } from './store.js';

/**
 * The supervisor: one small detached node process per running instance. It owns QEMU (QEMU is
 * its child, started through setpriv --pdeathsig, so QEMU never outlives it), waits for it,
 * and is the only writer of status.json while it lives. It exists because a detached QEMU has
 * nobody to collect its exit status: without it, `ps` could only guess how an instance ended,
 * and the restart policy would have nobody to apply it.
 *
 * Signals: SIGTERM = graceful stop (ACPI power button, then the spec's stop timeout, then
 * kill); SIGUSR1 = kill QEMU now. Either one also cancels any pending restart.
 */
export async function supervise(ctx: Context, dir: string): Promise<void> {
  // Signal handlers first: a stop that arrives while the files are read must not kill us.
  const stop = new AbortController();
  const kill = new AbortController();
  const wake = new AbortController();
  let loaded = false;
  const onStop = (how: 'stop' | 'kill') => {
    if (loaded) void update({ stopRequested: true });
    (how === 'stop' ? stop : kill).abort();
    wake.abort();
  };
  process.on('SIGTERM', () => onStop('stop'));
  process.on('SIGINT', () => onStop('stop'));
  process.on('SIGUSR1', () => onStop('kill'));

  const spec = await readSpec(dir);
  let status = await readStatus(dir);
  let writes = Promise.resolve();
  const update = (patch: Partial<InstanceStatus>): Promise<void> => {
    status = { ...status, ...patch, updatedAt: now() };
    const snapshot = status;
    writes = writes.then(() => writeStatus(dir, snapshot));
    return writes;
  };
  loaded = true;
  if (stop.signal.aborted || kill.signal.aborted) {
    await update({ supervisor: selfRef(), stopRequested: true, state: 'exited', exit: { kind: 'stopped', forced: kill.signal.aborted }, finishedAt: now() });
    return;
  }

  const eventsPath = join(dir, 'events.ndjson');
  const reporter = {
    emit(event: KilnEvent) {
      appendFileSync(eventsPath, JSON.stringify({ time: now(), ...event }) + '\n');
      if (event.type === 'accel') void update({ accel: event.accel });
      if (event.type === 'vm-started') {
        const qemu = refOf(event.pid);
        void update({ state: 'running', startedAt: now(), ...(qemu ? { qemu } : {}), ...(event.qmpSocket ? { qmpSocket: event.qmpSocket } : {}) });
      }
    },
  };
  const runCtx = createContext({ paths: ctx.paths, env: ctx.env, reporter });
  await update({ supervisor: selfRef(), restarts: status.restarts ?? 0 });

  for (;;) {
    try {
      const result = await launch(runCtx, {
        ...spec.request,
        consoleLogPath: consolePath(dir),
        runDirParent: dir,
        volumeImageDir: join(dir, 'volumes'),
        stopSignal: stop.signal,
        killSignal: kill.signal,
      });
      const { qemu: _gone, qmpSocket: _closed, ...rest } = status;
      status = rest as InstanceStatus;
      await update({
        state: result.report.kind === 'crashed' ? 'failed' : 'exited',
        exit: result.report,
        exitCode: result.exitCode,
        finishedAt: now(),
      });
      const failed = result.exitCode !== 0;
      const retriesLeft = spec.restart.maxRetries === undefined || status.restarts < spec.restart.maxRetries;
      if (!failed || spec.restart.policy !== 'on-failure' || !retriesLeft || status.stopRequested) break;
    } catch (error) {
      const body = isKilnError(error)
        ? { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}), details: error.details }
        : { code: ErrorCodes.INTERNAL, message: String((error as Error)?.stack ?? error) };
      await update({ state: 'failed', error: body, finishedAt: now() });
      break; // a launch that fails before the VM runs would fail again: no restart
    }
    // Docker-like back-off (1 s, 2 s, 4 s … up to 30 s); a stop during the wait ends it.
    const delay = Math.min(30, 2 ** status.restarts) * 1000;
    const previous = status.state;
    await update({ state: 'restarting', restarts: status.restarts + 1 });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      wake.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    if (status.stopRequested) {
      await update({ state: previous });
      break;
    }
  }
  await writes;
}
