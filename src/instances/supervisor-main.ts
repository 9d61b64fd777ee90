import { ErrorCodes } from '../errors.js';
import { createContext } from '../context.js';
import { now, readStatus, writeStatus } from './store.js';
import { supervise } from './supervisor.js';

/**
 * Entry point of the detached supervisor process:
 *   node supervisor-main.js CACHE_DIR STATE_DIR INSTANCE_DIR
 * It is started by `kiln launch -d` and never by a person. Its stderr is the instance's
 * supervisor.log; if supervise() itself throws, the failure is recorded in status.json.
 */
const [cache, state, dir] = process.argv.slice(2);
if (!cache || !state || !dir) {
  process.stderr.write('usage: supervisor-main CACHE_DIR STATE_DIR INSTANCE_DIR\n');
  process.exit(2);
}
const ctx = createContext({ paths: { cache, state } });
supervise(ctx, dir).then(
  () => process.exit(0),
  async (error: unknown) => {
    process.stderr.write(`kiln supervisor: ${(error as Error)?.stack ?? String(error)}\n`);
    try {
      const status = await readStatus(dir);
      await writeStatus(dir, {
        ...status,
        state: 'failed',
        error: { code: ErrorCodes.INTERNAL, message: `the supervisor failed: ${(error as Error)?.message ?? String(error)}` },
        finishedAt: now(),
        updatedAt: now(),
      });
    } catch {
      // status.json itself is unreadable: the next kiln command reports it with its path
    }
    process.exit(1);
  },
);
