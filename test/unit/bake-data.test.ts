import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gatherDataFiles, parseDataFileFlag } from '../../src/bake/data.js';
import { isKilnError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

test('a data tree is read in sorted order with links kept as links', async () => {
  const dir = await tempDir();
  await mkdir(join(dir, 'share/sub'), { recursive: true });
  await writeFile(join(dir, 'share/b.txt'), 'b');
  await writeFile(join(dir, 'share/sub/a.txt'), 'a');
  await symlink('sub/a.txt', join(dir, 'share/link'));
  const entries = await gatherDataFiles([{ hostPath: join(dir, 'share'), guestPath: '/usr/share/app/' }]);
  assert.deepEqual(
    entries.map((entry) => `${entry.kind} ${entry.guestPath}`),
    ['dir /usr/share/app', 'file /usr/share/app/b.txt', 'symlink /usr/share/app/link', 'dir /usr/share/app/sub', 'file /usr/share/app/sub/a.txt'],
  );
});

test('a link that leaves the data tree, a relative guest path and /kiln are refused', async () => {
  const dir = await tempDir();
  await mkdir(join(dir, 'tree'));
  await symlink('../../etc/shadow', join(dir, 'tree/escape'));
  const refused = async (request: { hostPath: string; guestPath: string }) =>
    assert.rejects(gatherDataFiles([request]), (error) => isKilnError(error) && error.code === 'KILN_DATA_FILE_INVALID');
  await refused({ hostPath: join(dir, 'tree'), guestPath: '/srv' });
  await refused({ hostPath: join(dir, 'tree'), guestPath: 'srv' });
  await refused({ hostPath: join(dir, 'tree'), guestPath: '/kiln/x' });
  await refused({ hostPath: join(dir, 'missing'), guestPath: '/srv' });
});

test('--file SRC:/DEST splits at the last colon before the absolute guest path', () => {
  assert.deepEqual(parseDataFileFlag('./a:b.conf:/etc/a.conf'), { hostPath: './a:b.conf', guestPath: '/etc/a.conf' });
  assert.throws(() => parseDataFileFlag('nocolon'), (error) => isKilnError(error) && error.code === 'KILN_USAGE');
});
