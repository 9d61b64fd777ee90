import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSpec } from '../../src/instances/store.js';

/** spec.json's launch request has a schema: typed where it is read, refused (with the path) when damaged. */
const spec = (request: unknown) => ({ version: 1, name: 'web', createdAt: '2026-12-04T00:00:00.000Z', image: '/img', restart: { policy: 'no' }, request });

test('an instance spec\'s request is read as a typed launch request', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-spec-'));
  try {
    const request = {
      imageDir: '/img',
      cpus: 2,
      accel: 'tcg',
      network: 'user',
      ports: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 }],
      volumes: [{ source: '/srv/site', target: '/srv', readOnly: true }],
      config: { version: 1, hostname: 'web' },
      stopTimeoutSeconds: 3,
    };
    await writeFile(join(dir, 'spec.json'), JSON.stringify(spec(request)));
    const read = await readSpec(dir);
    assert.equal(read.request.stopTimeoutSeconds, 3);
    assert.equal(read.request.ports![0]!.hostPort, 8080);
    assert.deepEqual(read.request.config, { version: 1, hostname: 'web' });

    for (const [bad, path] of [
      [{ ...request, ports: '8080:80' }, 'request.ports'],
      [{ ...request, accel: 'fast' }, 'request.accel'],
      [{ ...request, memory: '1G' }, 'request'],
      [{ cpus: 1 }, 'request.imageDir'],
    ] as const) {
      await writeFile(join(dir, 'spec.json'), JSON.stringify(spec(bad)));
      await assert.rejects(readSpec(dir), (error: Error & { code?: string; details?: string[] }) => error.code === 'KILN_INSTANCE_STATE_CORRUPT' && error.details!.some((line) => line.startsWith(path)));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
