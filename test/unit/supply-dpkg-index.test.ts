import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dpkgFingerprint, dpkgOwnerIndex, memoIndex, memoText } from '../../src/supply/dpkg-index.js';
import { packageOwning } from '../../src/supply/dpkg.js';
import { tempDir } from '../helpers.js';

/** The index of dpkg's file lists, over a hand-made dpkg database, and its memo in the cache. */

async function fakeDpkg(): Promise<{ infoDir: string; statusFile: string; cacheDir: string }> {
  const root = await tempDir('kiln-dpkg-index-');
  const infoDir = join(root, 'info');
  await mkdir(infoDir);
  await writeFile(join(infoDir, 'libfoo1:amd64.list'), '/.\n/usr\n/usr/lib\n/usr/lib/libfoo.so.1\n/usr/share/doc/libfoo1/copyright\n');
  await writeFile(join(infoDir, 'zeta.list'), '/usr\n/usr/bin\n/usr/bin/zeta\n/usr/lib/libfoo.so.1\n/usr/bin/with\ttab\n');
  await writeFile(join(infoDir, 'zeta.md5sums'), 'not a list\n');
  const statusFile = join(root, 'status');
  await writeFile(statusFile, 'Package: libfoo1\n\nPackage: zeta\n');
  return { infoDir, statusFile, cacheDir: join(root, 'cache') };
}

test('memo text: binary search by directory finds every path and nothing else', () => {
  const paths = ['/.', '/usr', '/a', '/a/b', '/a b', '/a/b/c', '/usr/lib/x', '/usr/lib/x.so.1', '/usr/lib/x.so', '/zz', '/é/f', '/usr/bin/with\ttab'];
  const header = 'h\n';
  const index = memoIndex(header + memoText(paths.map((p, i) => [p, `p${i}`])), header.length);
  paths.slice(0, -1).forEach((p, i) => assert.equal(index.owner(p), `p${i}`, p));
  for (const missing of ['', '/', '/0', '/a/', '/usr/lib', '/usr/lib/x.s', '/usr/lib/x.so.', '/zzz', '/é', '/é/', '/usr/bin/with\ttab', 'h', 'p1', 'x.so']) {
    assert.equal(index.owner(missing), undefined, missing);
  }
  assert.equal(memoIndex(header, header.length).owner('/a'), undefined);
});

test('the owner index is memoised in the cache under a fingerprint of dpkg’s database', async () => {
  const fake = await fakeDpkg();
  const index = await dpkgOwnerIndex(fake);
  assert.equal(index.owner('/usr/bin/zeta'), 'zeta');
  // The first list by file name owns a path two lists name; ":amd64" is not part of the name.
  assert.equal(index.owner('/usr/lib/libfoo.so.1'), 'libfoo1');
  assert.equal(index.owner('/usr/bin/with\ttab'), undefined);
  assert.equal(index.owner('/usr/bin/none'), undefined);
  const memos = await readdir(join(fake.cacheDir, 'dpkg-owners'));
  const { fingerprint } = await dpkgFingerprint(fake.infoDir, fake.statusFile);
  assert.deepEqual(memos, [`${fingerprint}.tsv`]);

  // A later process reads the memo, not the lists: prove it by changing a list without touching the fingerprint's facts.
  const memoPath = join(fake.cacheDir, 'dpkg-owners', memos[0]!);
  const memo = await readFile(memoPath, 'utf8');
  await writeFile(memoPath, memo.replace('\tzeta\0zeta', '\tzeta\0from-memo'));
  const otherProcess = await dpkgOwnerIndex({ ...fake, cacheDir: fake.cacheDir + '/../cache' });
  assert.equal(otherProcess.owner('/usr/bin/zeta'), 'from-memo');
  await writeFile(memoPath, memo);

  // A dpkg run (a new package's list, a rewritten status) changes the fingerprint: the lists are read again, the old memo goes.
  await writeFile(join(fake.infoDir, 'newpkg.list'), '/usr/bin/newtool\n');
  await writeFile(fake.statusFile, 'Package: libfoo1\n\nPackage: zeta\n\nPackage: newpkg\n');
  const later = new Date(Date.now() + 5000);
  await utimes(fake.statusFile, later, later);
  await utimes(fake.infoDir, later, later);
  const after = await dpkgOwnerIndex(fake);
  assert.equal(after.owner('/usr/bin/newtool'), 'newpkg');
  const next = await dpkgFingerprint(fake.infoDir, fake.statusFile);
  assert.notEqual(next.fingerprint, fingerprint);
  assert.deepEqual(await readdir(join(fake.cacheDir, 'dpkg-owners')), [`${next.fingerprint}.tsv`]);

  // A memo with another layout (or foreign content) is not trusted: the lists are read again.
  await writeFile(join(fake.cacheDir, 'dpkg-owners', `${next.fingerprint}.tsv`), 'garbage\n');
  await rm(join(fake.infoDir, 'newpkg.list'));
  await utimes(fake.infoDir, later, later);
  await writeFile(join(fake.infoDir, 'newpkg.list'), '/usr/bin/newtool\n');
  await utimes(fake.infoDir, later, later);
  // (A differently spelt cache dir misses this process's own copy, as a new process would.)
  assert.equal((await dpkgOwnerIndex({ ...fake, cacheDir: `${fake.cacheDir}/` })).owner('/usr/bin/newtool'), 'newpkg');
  assert.match(await readFile(join(fake.cacheDir, 'dpkg-owners', `${next.fingerprint}.tsv`), 'utf8'), /^kiln-dpkg-owners 2 [0-9a-f]{64}\n/);
});

test('packageOwning with a cache dir answers as without one, on the host’s real database', async () => {
  const cacheDir = await tempDir('kiln-dpkg-cache-');
  for (const path of ['/usr/bin/ls', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']) {
    assert.equal(await packageOwning(path, { cacheDir }), await packageOwning(path), path);
  }
  assert.equal(await packageOwning('/usr/bin/ls', { cacheDir }), 'coreutils');
  assert.equal((await readdir(join(cacheDir, 'dpkg-owners'))).length, 1);
});
