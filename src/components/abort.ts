import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';

/** Throws KILN_INTERRUPTED once the context's signal has fired; call between long steps. */
export function throwIfAborted(ctx: Context): void {
  if (ctx.signal?.aborted) throw new KilnError(ErrorCodes.INTERRUPTED, 'interrupted', { cause: ctx.signal.reason });
}
