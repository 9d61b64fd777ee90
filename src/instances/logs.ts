import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Context } from '../context.js';
import { inspectInstance, isActive } from './manage.js';
import { consolePath } from './store.js';

/**
 * Copies an instance's console log to `out`. With `follow`, keeps copying what QEMU appends
 * until the instance is no longer active (after a last read) or `signal` aborts. Polling is
 * used rather than fs.watch: it behaves the same on every file system and costs little.
 */
export async function instanceLogs(ctx: Context, name: string, out: Writable, options: { follow?: boolean; signal?: AbortSignal } = {}): Promise<void> {
  const info = await inspectInstance(ctx, name);
  const path = consolePath(info.dir);
  let offset = 0;
  const drain = async (): Promise<void> => {
    const handle = await open(path, 'r').catch(() => undefined);
    if (!handle) return;
    try {
      const buffer = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        if (bytesRead === 0) return;
        offset += bytesRead;
        if (!out.write(Buffer.from(buffer.subarray(0, bytesRead)))) await new Promise((resolve) => out.once('drain', resolve));
      }
    } finally {
      await handle.close();
    }
  };
  await drain();
  if (!options.follow) return;
  while (!options.signal?.aborted) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const active = isActive((await inspectInstance(ctx, name)).status);
    await drain();
    if (!active) return;
  }
}
