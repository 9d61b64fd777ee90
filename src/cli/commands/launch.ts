import type { Context } from '../../context.js';
import { bake } from '../../bake/index.js';
import { launch } from '../../launch/launch.js';
import { createInstance } from '../../instances/manage.js';
import { parseRestart } from '../runtime-flags.js';
import { isProjectDir, projectImageForRun } from './build.js';
import { assertNotInstanceOnly } from './instances.js';
import { toBakeRequest, toLaunchRequest, type RawBakeOptions, type RawLaunchOptions } from '../options.js';
import { withPackageApp } from './package-app.js';
import { looksLikeReference } from '../../oci/reference.js';
import { pulledImageForRun, type RawRunPullOptions } from './registry.js';
import { exists } from '../../util/fs.js';

export async function launchCommand(ctx: Context, image: string, args: string[], options: RawLaunchOptions): Promise<number> {
  const request = await toLaunchRequest(image, args, options, ctx.env);
  if (options.detach) {
    const info = await createInstance(ctx, {
      ...request,
      ...(options.name ? { name: options.name } : {}),
      ...(options.restart ? { restart: parseRestart(options.restart) } : {}),
    });
    ctx.reporter.emit({ type: 'info', message: `instance ${info.name} is ${info.status.state} (logs: kiln logs ${info.name})` });
    process.stdout.write(`${info.name}\n`);
    return 0;
  }
  assertNotInstanceOnly(options);
  return withInterrupts(async (stopSignal, killSignal) => {
    const result = await launch(ctx, { ...request, console: process.stdout, stopSignal, killSignal });
    return result.exitCode;
  });
}

export async function runCommand(ctx: Context, app: string, args: string[], options: RawBakeOptions & RawLaunchOptions & RawRunPullOptions): Promise<number> {
  if (await isProjectDir(app)) return launchCommand(ctx, await projectImageForRun(ctx, app, options), args, options);
  // A registry reference: pull (cached by digest, verified when asked), then launch the pulled image.
  if (looksLikeReference(app) && !(await exists(app))) return launchCommand(ctx, await pulledImageForRun(ctx, app, options), args, options);
  const bakeRequest = await withPackageApp(ctx, app, toBakeRequest(app, options, ctx.env), { ...(options.binary ? { binary: options.binary } : {}), packages: options.package });
  const image = await bake(ctx, bakeRequest);
  return launchCommand(ctx, image.dir, args, options);
}

/**
 * The first Ctrl-C (or SIGTERM) asks the guest to shut down cleanly: the shim passes SIGTERM
 * to the app. A second one kills the VM at once.
 */
async function withInterrupts(body: (stop: AbortSignal, kill: AbortSignal) => Promise<number>): Promise<number> {
  const stop = new AbortController();
  const kill = new AbortController();
  const onSignal = () => (stop.signal.aborted ? kill.abort() : stop.abort());
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body(stop.signal, kill.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
