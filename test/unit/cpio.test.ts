import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isKilnError } from '../../src/errors.js';
import { cpioBuffer, writeCpio, type CpioEntry } from '../../src/rootfs/cpio.js';
import { run } from '../../src/util/exec.js';
import { sha256, sha256File } from '../../src/util/fs.js';

let dir: string;
let entries: CpioEntry[];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-cpio-'));
  await writeFile(join(dir, 'init.bin'), Buffer.from('#!init\x00\x01\x02 binary'));
  await writeFile(join(dir, 'odd.txt'), 'abcde'); // 5 bytes: data needs padding
  entries = [
    { path: '/kiln/init', kind: 'file', mode: 0o755, source: { file: join(dir, 'init.bin') } },
    { path: '/etc/hostname', kind: 'file', mode: 0o644, source: { data: Buffer.from('kiln\n') } },
    { path: '/etc/odd', kind: 'file', mode: 0o600, source: { file: join(dir, 'odd.txt') } },
    { path: '/etc/empty', kind: 'file', mode: 0o644, source: { data: Buffer.alloc(0) } },
    { path: '/lib', kind: 'symlink', mode: 0o777, target: 'usr/lib' },
    { path: '/tmp', kind: 'dir', mode: 0o1777 },
    { path: '/dev/console', kind: 'chardev', mode: 0o600, rdevMajor: 5, rdevMinor: 1 },
    { path: '/usr/lib/x86_64-linux-gnu/libfoo.so.1', kind: 'file', mode: 0o644, source: { data: Buffer.from('not really a library') } },
  ];
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Header {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  size: number;
  devmajor: number;
  rdevmajor: number;
  rdevminor: number;
  check: number;
}

/** An independent newc reader, to check header fields and padding byte by byte. */
function readNewc(buf: Buffer): Header[] {
  const out: Header[] = [];
  let off = 0;
  for (;;) {
    assert.equal(buf.toString('ascii', off, off + 6), '070701', `magic at ${off}`);
    const field = (i: number) => parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const namesize = field(11);
    const name = buf.toString('utf8', off + 110, off + 110 + namesize - 1);
    assert.equal(buf[off + 110 + namesize - 1], 0, 'name ends with NUL');
    const h: Header = { name, ino: field(0), mode: field(1), uid: field(2), gid: field(3), nlink: field(4), mtime: field(5), size: field(6), devmajor: field(7), rdevmajor: field(9), rdevminor: field(10), check: field(12) };
    const dataStart = align4(off + 110 + namesize);
    assert.ok(buf.subarray(off + 110 + namesize, dataStart).every((b) => b === 0), 'name padding is zeros');
    off = align4(dataStart + h.size);
    if (name === 'TRAILER!!!') break;
    out.push(h);
  }
  assert.equal(off, buf.length, 'nothing after the trailer');
  return out;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

describe('writeCpio', () => {
  it('writes headers the newc way: sorted, numbered, owned by root, fixed mtime', async () => {
    const out = join(dir, 'a.cpio');
    const result = await writeCpio(entries, out, { mtime: 1700000000 });
    const buf = await readFile(out);
    assert.equal(result.bytes, buf.length);
    assert.equal(result.sha256, sha256(buf));
    assert.equal(buf.length % 4, 0, 'concatenable: the length is a multiple of 4');
    const headers = readNewc(buf);
    const names = headers.map((h) => h.name);
    assert.deepEqual(names, [
      'dev', 'dev/console', 'etc', 'etc/empty', 'etc/hostname', 'etc/odd', 'kiln', 'kiln/init', 'lib', 'tmp',
      'usr', 'usr/lib', 'usr/lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu/libfoo.so.1',
    ]);
    headers.forEach((h, i) => {
      assert.equal(h.ino, i + 1);
      assert.equal(h.uid, 0);
      assert.equal(h.gid, 0);
      assert.equal(h.mtime, 1700000000);
      assert.equal(h.devmajor, 0);
      assert.equal(h.check, 0);
    });
    const byName = new Map(headers.map((h) => [h.name, h]));
    assert.equal(byName.get('kiln')?.mode, 0o040755, 'parent directories are created with 0755');
    assert.equal(byName.get('kiln')?.nlink, 2);
    assert.equal(byName.get('tmp')?.mode, 0o041777);
    assert.equal(byName.get('lib')?.mode, 0o120777);
    assert.equal(byName.get('lib')?.size, 'usr/lib'.length);
    assert.equal(byName.get('dev/console')?.mode, 0o020600);
    assert.deepEqual([byName.get('dev/console')?.rdevmajor, byName.get('dev/console')?.rdevminor], [5, 1]);
    assert.equal(byName.get('kiln/init')?.nlink, 1);
    assert.equal(byName.get('etc/odd')?.size, 5);
  });

  it('is read back by GNU cpio: listing and extraction match the entries', async () => {
    const out = join(dir, 'b.cpio');
    await writeCpio(entries, out);
    const list = await run('cpio', ['-itv', '-F', out]);
    assert.match(list.stdout, /^crw------- +1 root +root +5, +1 .* dev\/console$/m);
    assert.match(list.stdout, /^lrwxrwxrwx .* lib -> usr\/lib$/m);
    assert.match(list.stdout, /^-rwxr-xr-x .* kiln\/init$/m);
    assert.doesNotMatch(list.stdout, /^\S+ .* \//m, 'no absolute names');

    const into = join(dir, 'extract');
    await mkdir(into);
    await run('cpio', ['-idm', '--no-absolute-filenames', '-F', out], { cwd: into });
    assert.deepEqual(await readFile(join(into, 'kiln/init')), await readFile(join(dir, 'init.bin')));
    assert.equal(await readFile(join(into, 'etc/odd'), 'utf8'), 'abcde');
    assert.equal(await readFile(join(into, 'etc/hostname'), 'utf8'), 'kiln\n');
    assert.equal((await stat(join(into, 'etc/empty'))).size, 0);
    assert.equal((await stat(join(into, 'kiln/init'))).mode & 0o7777, 0o755);
    assert.equal((await stat(join(into, 'etc/odd'))).mode & 0o7777, 0o600);
    assert.equal((await stat(join(into, 'tmp'))).mode & 0o7777, 0o1777);
    assert.equal(await readlink(join(into, 'lib')), 'usr/lib');
    assert.ok((await lstat(join(into, 'dev/console'))).isCharacterDevice());
    assert.equal((await stat(join(into, 'kiln/init'))).mtimeMs, 0, 'mtime 0 by default');
  });

  it('gives the same bytes for the same entries in any order', async () => {
    const a = await writeCpio(entries, join(dir, 'c1.cpio'));
    const b = await writeCpio([...entries].reverse(), join(dir, 'c2.cpio'));
    const shuffled = [...entries].sort(() => Math.random() - 0.5);
    const c = await writeCpio(shuffled, join(dir, 'c3.cpio'));
    assert.equal(a.sha256, b.sha256);
    assert.equal(a.sha256, c.sha256);
    assert.deepEqual(await readFile(join(dir, 'c1.cpio')), await readFile(join(dir, 'c2.cpio')));
  });

  it('streams a 20 MB file correctly', async () => {
    const big = join(dir, 'big.bin');
    await writeFile(big, randomBytes(20 * 1024 * 1024 + 3)); // +3: the data needs padding
    const out = join(dir, 'big.cpio');
    const result = await writeCpio([{ path: '/app/big', kind: 'file', mode: 0o755, source: { file: big } }], out);
    assert.equal(result.sha256, await sha256File(out));
    assert.equal(result.bytes, (await stat(out)).size);
    const into = join(dir, 'big-extract');
    await mkdir(into);
    await run('cpio', ['-idm', '-F', out], { cwd: into });
    assert.equal(await sha256File(join(into, 'app/big')), await sha256File(big));
  });

  it('rejects bad paths, duplicates and files under a symlink, leaving nothing behind', async () => {
    const out = join(dir, 'bad', 'x.cpio');
    const file = (path: string): CpioEntry => ({ path, kind: 'file', mode: 0o644, source: { data: Buffer.from('x') } });
    const cases: CpioEntry[][] = [
      [file('relative/path')],
      [file('/a/../etc/passwd')],
      [file('/a/./b')],
      [file('/a//b')],
      [file('/a/')],
      [file('/')],
      [file('/a'), file('/a')],
      [{ path: '/lib', kind: 'symlink', mode: 0o777, target: 'usr/lib' }, file('/lib/libc.so.6')],
      [{ path: '/link', kind: 'symlink', mode: 0o777 }],
      [{ path: '/f', kind: 'file', mode: 0o644 }],
      [{ path: '/f', kind: 'file', mode: 0o10000, source: { data: Buffer.alloc(0) } }],
      [{ path: '/f', kind: 'file', mode: 0o644, source: { file: join(dir, 'does-not-exist') } }],
    ];
    for (const bad of cases) {
      await assert.rejects(writeCpio(bad, out), (e) => isKilnError(e, 'KILN_ROOTFS_INVALID'), JSON.stringify(bad.map((e) => e.path)));
    }
    const left = await readdir(join(dir, 'bad')).catch(() => []);
    assert.deepEqual(left, []);
  });
});

describe('cpioBuffer', () => {
  it('matches writeCpio byte for byte for in-memory entries', async () => {
    const memory = entries.filter((e) => !(e.source && 'file' in e.source));
    const out = join(dir, 'mem.cpio');
    await writeCpio(memory, out);
    assert.deepEqual(cpioBuffer(memory), await readFile(out));
  });

  it('refuses file sources', () => {
    assert.throws(() => cpioBuffer([{ path: '/f', kind: 'file', mode: 0o644, source: { file: '/etc/hostname' } }]), (e) => isKilnError(e, 'KILN_ROOTFS_INVALID'));
  });

  it('makes an archive that can follow another one', () => {
    const first = cpioBuffer([{ path: '/kiln/a', kind: 'file', mode: 0o644, source: { data: Buffer.from('1') } }]);
    const second = cpioBuffer([{ path: '/kiln/runtime.conf', kind: 'file', mode: 0o644, source: { data: Buffer.from('abc') } }]);
    assert.equal(first.length % 4, 0);
    const both = Buffer.concat([first, second]);
    assert.deepEqual(readNewc(both.subarray(0, first.length)).map((h) => h.name), ['kiln', 'kiln/a']);
    assert.deepEqual(readNewc(both.subarray(first.length)).map((h) => h.name), ['kiln', 'kiln/runtime.conf']);
  });
});
