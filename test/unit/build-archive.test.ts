import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { checkArchive, entryProblem, extractArchive } from '../../src/pkgbuild/archive.js';
import { isKilnError, ErrorCodes } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

/**
 * The archive safety check, on tar files crafted entry by entry with node-tar's Header (a
 * normal tar tool would refuse to write most of these): each unsafe kind is refused before
 * anything is written, naming the entry; a safe archive with inside links extracts.
 */

interface Crafted {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO';
  linkpath?: string;
  body?: string;
}

function craftTar(entries: Crafted[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? '');
    const type = entry.type ?? 'File';
    const header = new Header({
      path: entry.path,
      type,
      mode: type === 'Directory' ? 0o755 : 0o644,
      size: type === 'File' ? body.length : 0,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      ...(entry.linkpath ? { linkpath: entry.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (type === 'File' && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const SAFE: Crafted[] = [
  { path: 'pkg/', type: 'Directory' },
  { path: 'pkg/README', body: 'hello\n' },
  { path: 'pkg/docs/', type: 'Directory' },
  { path: 'pkg/docs/link', type: 'SymbolicLink', linkpath: '../README' },
  { path: 'pkg/hard', type: 'Link', linkpath: 'pkg/README' },
];

async function expectUnsafe(entries: Crafted[], entryName: string, why: RegExp, gzip = false): Promise<void> {
  const dir = await tempDir('kiln-archive-');
  const file = join(dir, gzip ? 'bad.tar.gz' : 'bad.tar');
  const tar = craftTar([...SAFE, ...entries]);
  await writeFile(file, gzip ? gzipSync(tar) : tar);
  const dest = join(dir, 'out');
  await assert.rejects(extractArchive(file, dest, { scratch: join(dir, 'scratch') }), (error: unknown) => {
    assert.ok(isKilnError(error, ErrorCodes.ARCHIVE_UNSAFE), String(error));
    const line = error.details.find((d) => d.startsWith(entryName));
    assert.ok(line, `the error names ${entryName}: ${error.details.join(' | ')}`);
    assert.match(line, why);
    return true;
  });
  await assert.rejects(access(dest), 'nothing was written');
}

test('a safe archive with inside symlinks and hardlinks extracts, stripped by one component', async () => {
  const dir = await tempDir('kiln-archive-');
  const file = join(dir, 'ok.tar.gz');
  await writeFile(file, gzipSync(craftTar(SAFE)));
  const dest = join(dir, 'out');
  await extractArchive(file, dest, { scratch: join(dir, 'scratch') });
  assert.equal(await readFile(join(dest, 'README'), 'utf8'), 'hello\n');
  assert.equal(await readlink(join(dest, 'docs', 'link')), '../README');
  assert.equal(await readFile(join(dest, 'hard'), 'utf8'), 'hello\n');
});

test("an entry with '..' is refused", () => expectUnsafe([{ path: 'pkg/../../evil', body: 'x' }], 'pkg/../../evil', /'\.\.'/));
test('an absolute path is refused (also inside gzip)', () => expectUnsafe([{ path: '/etc/evil', body: 'x' }], '/etc/evil', /absolute/, true));
test('a symlink escaping the tree is refused', () => expectUnsafe([{ path: 'pkg/up', type: 'SymbolicLink', linkpath: '../../etc' }], 'pkg/up', /outside the tree/));
test('a symlink to an absolute path is refused', () => expectUnsafe([{ path: 'pkg/root', type: 'SymbolicLink', linkpath: '/etc/passwd' }], 'pkg/root', /absolute path/));
test('a hardlink to a file outside the tree is refused', () => expectUnsafe([{ path: 'pkg/pw', type: 'Link', linkpath: '/etc/passwd' }], 'pkg/pw', /hardlink/));
test('a hardlink with .. is refused', () => expectUnsafe([{ path: 'pkg/pw2', type: 'Link', linkpath: 'pkg/../../x' }], 'pkg/pw2', /hardlink/));
test('device files and fifos are refused', async () => {
  await expectUnsafe([{ path: 'pkg/null', type: 'CharacterDevice' }], 'pkg/null', /device/);
  await expectUnsafe([{ path: 'pkg/disk', type: 'BlockDevice' }], 'pkg/disk', /device/);
  await expectUnsafe([{ path: 'pkg/pipe', type: 'FIFO' }], 'pkg/pipe', /fifo/);
});
test('a file written through a symlink is refused, even when each link looks inside', () =>
  // pkg/d/l -> .. is the tree root; pkg/d/l/m -> ../.. would then be two levels above it.
  expectUnsafe(
    [
      { path: 'pkg/d/', type: 'Directory' },
      { path: 'pkg/d/l', type: 'SymbolicLink', linkpath: '..' },
      { path: 'pkg/d/l/m', type: 'SymbolicLink', linkpath: '../..' },
    ],
    'pkg/d/l/m',
    /through the symlink/,
  ));

test('strip is part of the check: a link that stays inside pkg/ only before stripping is refused', () => {
  assert.equal(entryProblem({ path: 'pkg/a', type: 'SymbolicLink', linkpath: '../other/x' }, 0, new Set()), undefined);
  assert.match(entryProblem({ path: 'pkg/a', type: 'SymbolicLink', linkpath: '../other/x' }, 1, new Set()) ?? '', /outside/);
});

test("a symlink whose '..' climbs back through another symlink is refused, though its text stays inside", () => {
  const seen = new Set<string>();
  // p/a/b/up -> .. lands at a; p/a/b/l -> up/../../.. reads as "." but, through up, leaves the tree.
  assert.equal(entryProblem({ path: 'p/a/b/up', type: 'SymbolicLink', linkpath: '..' }, 1, seen), undefined);
  assert.match(entryProblem({ path: 'p/a/b/l', type: 'SymbolicLink', linkpath: 'up/../../..' }, 1, seen) ?? '', /climbs back through another symlink/);
  assert.equal(entryProblem({ path: 'p/a/b/ok', type: 'SymbolicLink', linkpath: '../c/file' }, 1, seen), undefined);
});

test('checkArchive lists every bad entry, not only the first', async () => {
  const dir = await tempDir('kiln-archive-');
  const file = join(dir, 'bad.tar');
  await writeFile(file, craftTar([{ path: '/a', body: 'x' }, { path: 'pkg/../b', body: 'y' }]));
  await assert.rejects(checkArchive(file, { scratch: dir }), (error: unknown) => isKilnError(error, ErrorCodes.ARCHIVE_UNSAFE) && error.details.length === 2);
});
