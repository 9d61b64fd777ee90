import type { Context } from '../context.js';
import { loadImage } from '../image/manifest.js';
import { probeKvmVerdict } from './accel.js';
import { engineFor } from './engines/index.js';
import { gatherHostFacts } from './host-facts.js';
import { planLaunch } from './plan.js';
import { assertPortsFree } from './ports.js';
import { exitCodeFor } from './status.js';
import type { LaunchRequest, LaunchResult } from './types.js';

export type { LaunchRequest, LaunchResult, TapRequest } from './types.js';
export { composeRuntimeConfig } from './plan.js';

/**
 * launch = host facts (I/O) → planLaunch (pure: every refusal) → the plan's engine (QEMU, xl)
 * runs it to its end. `auto` acceleration on a host with a KVM that has no verdict yet boots
 * the KVM probe once between two plannings (the second only adds the verdict).
 */
export async function launch(ctx: Context, request: LaunchRequest): Promise<LaunchResult> {
  const image = await loadImage(request.imageDir);
  const host = await gatherHostFacts(ctx, image, request.accel ?? 'auto');
  let plan = planLaunch(image, request, host);
  if (plan.network.kind === 'user') await assertPortsFree(plan.network.forwards);
  if (plan.needsKvmProbe) plan = planLaunch(image, request, { ...host, kvm: { verdict: await probeKvmVerdict(ctx, image) } });
  if (plan.accel) ctx.reporter.emit({ type: 'accel', accel: plan.accel.accel, reason: plan.accel.reason, cached: plan.accel.cached });

  const result = await engineFor(plan.engine).run(ctx, plan, {
    ...(request.console ? { console: request.console } : {}),
    ...(request.consoleLogPath ? { consoleLogPath: request.consoleLogPath } : {}),
    ...(request.runDirParent ? { runDirParent: request.runDirParent } : {}),
    ...(request.volumeImageDir ? { volumeImageDir: request.volumeImageDir } : {}),
    ...(request.timeoutSeconds !== undefined ? { timeoutSeconds: request.timeoutSeconds } : {}),
    stopTimeoutSeconds: request.stopTimeoutSeconds ?? 10,
    ...(request.stopSignal ? { stopSignal: request.stopSignal } : {}),
    ...(request.killSignal ? { killSignal: request.killSignal } : {}),
  });
  return { report: result.report, exitCode: exitCodeFor(result.report), ...(plan.accel ? { accel: plan.accel } : {}), timings: result.timings, consoleTail: result.consoleTail };
}
