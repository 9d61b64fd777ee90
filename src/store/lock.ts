import { KilnError, ErrorCodes } from '../errors.js';
import type { Context } from '../context.js';
import { withPidLock } from '../util/pid-lock.js';

export { lockState, breakDead, type LockState } from '../util/pid-lock.js';

/**
 * One lock per store key, so two `kiln build`s never fill one entry twice at once; a lock
 * left by a killed builder is taken over. Builds take minutes, so waiters wait long and say
 * what they wait for.
 */
export async function withStoreLock<T>(ctx: Context, path: string, what: string, body: () => Promise<T>, timeoutMs = 6 * 3600_000): Promise<T> {
  return withPidLock(
    path,
    {
      timeoutMs,
      maxDelayMs: 500,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      busy: (owner) => new KilnError(ErrorCodes.STORE_BUSY, `${what} is being built by another kiln (pid ${owner.pid})`, { hint: `wait for it to finish; the lock is ${path}` }),
      onWait: (owner) => ctx.reporter.emit({ type: 'info', message: `waiting for pid ${owner.pid}, which is building ${what}` }),
    },
    body,
  );
}
