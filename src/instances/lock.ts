import { KilnError, ErrorCodes } from '../errors.js';
import { withPidLock } from '../util/pid-lock.js';

/** Serialises commands on one instance (start, stop, rm); a lock of a killed kiln is taken over. */
export async function withLock<T>(path: string, what: string, body: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  return withPidLock(
    path,
    {
      timeoutMs,
      busy: (owner) =>
        new KilnError(ErrorCodes.INSTANCE_BUSY, `${what} is locked by another kiln command${owner.pid ? ` (pid ${owner.pid})` : ''}`, {
          hint: `wait for it to finish; the lock is ${path}`,
        }),
    },
    body,
  );
}
