import type { Context } from '../context.js';
import { applyBake, type BakeResult } from './apply.js';
import { gatherBakeInputs, type BakeRequest } from './gather.js';
import { planBake } from './plan.js';

export type { BakeRequest } from './gather.js';
export type { BakeResult } from './apply.js';
export type { BakeInputs, BakePlan } from './types.js';
export { planBake, guestPathForApp } from './plan.js';
export { gatherBakeInputs } from './gather.js';
export { applyBake } from './apply.js';

/** bake = gather (read the inputs) → plan (pure) → apply (write, cached, atomic). */
export async function bake(ctx: Context, request: BakeRequest, outputDir?: string): Promise<BakeResult> {
  const inputs = await gatherBakeInputs(ctx, request);
  const plan = planBake(inputs);
  return applyBake(ctx, plan, outputDir);
}
