import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gptScript, LINUX_DATA_TYPE, stableGuid } from '../../src/targets/disk/gpt.js';
import { dataPartitionRecords, parseDataPartitionFlag, planDataPartition } from '../../src/targets/disk/data-partition.js';
import { runtimeArchive } from '../../src/targets/runtime-archive.js';
import { diskTarget, efiTarget, qemuTarget } from '../../src/targets/registry.js';

test('--data-partition takes SIZE[:/MOUNT] in MiB or GiB', () => {
  assert.deepEqual(parseDataPartitionFlag('256'), { sizeMiB: 256 });
  assert.deepEqual(parseDataPartitionFlag('256M'), { sizeMiB: 256 });
  assert.deepEqual(parseDataPartitionFlag('2G:/srv/data'), { sizeMiB: 2048, mount: '/srv/data' });
  assert.deepEqual(parseDataPartitionFlag('2GiB:/srv/data'), { sizeMiB: 2048, mount: '/srv/data' });
  for (const bad of ['', 'big', '1T', '-5M']) assert.throws(() => parseDataPartitionFlag(bad), { code: 'KILN_USAGE' }, bad);
});

test('only a disk image can have a data partition, of a sane size and mount point', () => {
  assert.equal(planDataPartition(diskTarget, undefined), undefined);
  assert.deepEqual(planDataPartition(diskTarget, { sizeMiB: 64 }), { label: 'kiln-data', sizeMiB: 64, mount: '/data' });
  assert.deepEqual(planDataPartition(diskTarget, { sizeMiB: 64, mount: '/srv/db' }), { label: 'kiln-data', sizeMiB: 64, mount: '/srv/db' });
  for (const target of [qemuTarget, efiTarget]) {
    assert.throws(() => planDataPartition(target, { sizeMiB: 64 }), (error: Error & { code?: string }) => error.code === 'KILN_TARGET_CANNOT_CARRY' && /have none/.test(error.message));
  }
  assert.throws(() => planDataPartition(diskTarget, { sizeMiB: 4 }), { code: 'KILN_USAGE' });
  for (const mount of ['data', '/', '/kiln/x', '/a/../b', '/a/']) assert.throws(() => planDataPartition(diskTarget, { sizeMiB: 64, mount }), { code: 'KILN_USAGE' }, mount);
});

test('the GPT script puts the named data partition right after the ESP', () => {
  const script = gptScript(131072, 'seed', { sectors: 32768, name: 'kiln-data' });
  assert.match(script, new RegExp(`^start=133120, size=32768, type=${LINUX_DATA_TYPE}, uuid=${stableGuid('seed/data')}, name="kiln-data"$`, 'm'));
  assert.equal(gptScript(131072, 'seed').split('\n').filter((line) => line.startsWith('start=')).length, 1);
});

test("the image's own runtime config mounts the data partition by its GPT name", () => {
  const partition = planDataPartition(diskTarget, { sizeMiB: 64, mount: '/srv/db' });
  assert.deepEqual(dataPartitionRecords(partition), [['partition', 'kiln-data'], ['mount', '/srv/db']]);
  assert.deepEqual(dataPartitionRecords(undefined), []);
  const archive = runtimeArchive({ app: { guestPath: '/app/x', args: [], env: {}, linkage: 'static', sha256: '0'.repeat(64) } }, { statusDevice: '/dev/ttyS0', exit: { kind: 'poweroff' } }, { version: 1 }, dataPartitionRecords(partition));
  assert.ok(archive.includes(Buffer.from('partition\0kiln-data\0mount\0/srv/db\0')));
});
