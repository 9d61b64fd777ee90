import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveKernelPackageCached } from '../../src/components/apt-memo.js';
import { ARCHS } from '../../src/arch.js';
import { createContext } from '../../src/context.js';
import { tempDir } from '../helpers.js';

test("apt's answer is remembered until apt's state changes", async () => {
  const work = await tempDir();
  const paths = { cache: join(work, 'cache'), state: join(work, 'state') };
  const ctx = createContext({ paths });
  const first = await resolveKernelPackageCached(ctx, 'linux-image-cloud-amd64', ARCHS.x86_64);
  assert.match(first.package, /^linux-image-.*-cloud-amd64$/);

  // With apt-cache unreachable, the same apt state still answers from memory...
  const noApt = createContext({ paths, env: { ...process.env, PATH: join(work, 'empty') } });
  assert.deepEqual(await resolveKernelPackageCached(noApt, 'linux-image-cloud-amd64', ARCHS.x86_64), first);
  // ...but a different apt configuration is a different state, so apt must be asked again.
  const otherState = createContext({ paths, env: { ...process.env, PATH: join(work, 'empty'), APT_CONFIG: '/dev/null' } });
  await assert.rejects(resolveKernelPackageCached(otherState, 'linux-image-cloud-amd64', ARCHS.x86_64), { code: 'KILN_TOOL_MISSING' });
});
