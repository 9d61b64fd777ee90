import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isKilnError, type KilnError } from '../../src/errors.js';
import { hostMergedUsrLinks, resolveElfClosure, type ElfClosure } from '../../src/rootfs/libs.js';
import { run } from '../../src/util/exec.js';

let dir: string;
before(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'kiln-libs-')));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cc(args: string[]): Promise<void> {
  await run('gcc', ['-O2', ...args]);
}

/** Follows `path` through the closure's directory symlinks, as the guest kernel would. */
function throughLinks(closure: ElfClosure, path: string): string {
  for (let hops = 0; hops < 40; hops++) {
    const link = closure.symlinks.find((l) => path.startsWith(l.path + '/'));
    if (!link) return path;
    const base = link.target.startsWith('/') ? link.target : posix.join(posix.dirname(link.path), link.target);
    path = posix.join(base, path.slice(link.path.length));
  }
  throw new Error('symlink loop');
}

describe('resolveElfClosure on the host', () => {
  it('finds libc.so.6 and the interpreter of /usr/bin/ls', async () => {
    const closure = await resolveElfClosure('/usr/bin/ls');
    assert.equal(closure.interpreter?.loaderPath, '/lib64/ld-linux-x86-64.so.2');
    assert.equal(closure.interpreter.hostPath, await realpath('/lib64/ld-linux-x86-64.so.2'));
    const libc = closure.libraries.find((l) => l.soname === 'libc.so.6');
    assert.ok(libc, 'libc.so.6 is in the closure');
    assert.equal(libc.hostPath, await realpath(libc.loaderPath));
    assert.ok(libc.neededBy.includes(closure.app.guestPath));
    assert.deepEqual(closure.libraryPath, []);
    // ld-linux-x86-64.so.2 (needed by libc) is the interpreter, not a second copy.
    assert.ok(!closure.libraries.some((l) => l.soname.startsWith('ld-linux')));
    const paths = closure.libraries.map((l) => l.guestPath);
    assert.deepEqual(paths, [...paths].sort());
    // Every path the loader opens reaches the stored file through the closure's symlinks.
    for (const file of [closure.interpreter, ...closure.libraries]) assert.equal(throughLinks(closure, file.loaderPath), file.guestPath);
  });

  it('reports merged-/usr links when the host has them', async () => {
    const links = await hostMergedUsrLinks('/');
    const paths = links.map((l) => l.path);
    assert.deepEqual(paths, [...paths].sort());
    for (const link of links) assert.match(link.target, /^\/?usr\//);
  });

  it('follows $ORIGIN in DT_RUNPATH, and moves with the app', async () => {
    const root = join(dir, 'origin');
    await mkdir(join(root, 'lib'), { recursive: true });
    await mkdir(join(root, 'bin'), { recursive: true });
    await writeFile(join(root, 'k.c'), 'int k(void) { return 42; }\n');
    await writeFile(join(root, 'main.c'), 'int k(void);\nint main(void) { return k() - 42; }\n');
    await cc(['-shared', '-fPIC', '-o', join(root, 'lib/libkorigin.so'), join(root, 'k.c')]);
    await cc(['-o', join(root, 'bin/app'), join(root, 'main.c'), `-L${join(root, 'lib')}`, '-lkorigin', '-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib']);
    await run(join(root, 'bin/app'), []); // the host's loader agrees

    const closure = await resolveElfClosure(join(root, 'bin/app'));
    const lib = closure.libraries.find((l) => l.soname === 'libkorigin.so');
    assert.equal(lib?.foundVia, 'runpath');
    assert.equal(lib.hostPath, join(root, 'lib/libkorigin.so'));
    assert.equal(lib.guestPath, join(root, 'lib/libkorigin.so'));

    const moved = await resolveElfClosure(join(root, 'bin/app'), { appGuestPath: '/app/bin/app' });
    const movedLib = moved.libraries.find((l) => l.soname === 'libkorigin.so');
    assert.equal(moved.app.guestPath, '/app/bin/app');
    assert.equal(movedLib?.guestPath, '/app/lib/libkorigin.so');
    assert.equal(movedLib.hostPath, join(root, 'lib/libkorigin.so'));
  });

  it('applies the executable\'s DT_RPATH to the libraries it loads (glibc rule)', async () => {
    const root = join(dir, 'rpath');
    await mkdir(join(root, 'lib'), { recursive: true });
    await writeFile(join(root, 'b.c'), 'int b(void) { return 1; }\n');
    await writeFile(join(root, 'a.c'), 'int b(void);\nint a(void) { return b(); }\n');
    await writeFile(join(root, 'main.c'), 'int a(void);\nint main(void) { return a() - 1; }\n');
    await cc(['-shared', '-fPIC', '-o', join(root, 'lib/libkb.so'), join(root, 'b.c')]);
    await cc(['-shared', '-fPIC', '-o', join(root, 'lib/libka.so'), join(root, 'a.c'), `-L${join(root, 'lib')}`, '-lkb']);
    await cc(['-o', join(root, 'app'), join(root, 'main.c'), `-L${join(root, 'lib')}`, '-lka', `-Wl,-rpath-link,${join(root, 'lib')}`, '-Wl,--disable-new-dtags,-rpath,$ORIGIN/lib']);
    await run(join(root, 'app'), []);

    const closure = await resolveElfClosure(join(root, 'app'));
    const kb = closure.libraries.find((l) => l.soname === 'libkb.so');
    assert.equal(kb?.foundVia, 'rpath');
    assert.deepEqual(kb.neededBy, [join(root, 'lib/libka.so')]);
  });

  it('names the missing library and the ELF that needs it', async () => {
    const root = join(dir, 'missing');
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'm.c'), 'int m(void) { return 0; }\n');
    await writeFile(join(root, 'n.c'), 'int m(void);\nint n(void) { return m(); }\n');
    await writeFile(join(root, 'direct.c'), 'int m(void);\nint main(void) { return m(); }\n');
    await writeFile(join(root, 'indirect.c'), 'int n(void);\nint main(void) { return n(); }\n');
    await cc(['-shared', '-fPIC', '-o', join(root, 'libkmissing.so'), join(root, 'm.c')]);
    await cc(['-shared', '-fPIC', '-o', join(root, 'libkneeds.so'), join(root, 'n.c'), `-L${root}`, '-lkmissing']);
    await cc(['-o', join(root, 'direct'), join(root, 'direct.c'), `-L${root}`, '-lkmissing']);
    await cc(['-o', join(root, 'indirect'), join(root, 'indirect.c'), `-L${root}`, '-lkneeds', `-Wl,-rpath-link,${root}`]);
    await rm(join(root, 'libkmissing.so'));
    const check = (error: unknown, needer: string) => {
      assert.ok(isKilnError(error, 'KILN_LIBRARY_NOT_FOUND'), String(error));
      const e = error as KilnError;
      assert.match(e.message, /libkmissing\.so/);
      assert.ok(e.message.includes(`needed by ${needer}`), e.message);
      assert.match(e.hint ?? '', /apt-file search libkmissing\.so/);
      assert.ok(e.details.some((d) => d.trim().startsWith('/usr/lib/x86_64-linux-gnu (')), e.details.join('\n'));
      return true;
    };
    await assert.rejects(resolveElfClosure(join(root, 'direct')), (e) => check(e, join(root, 'direct')));
    // Needed by a library (found through an extra search path) that the app needs.
    await assert.rejects(resolveElfClosure(join(root, 'indirect'), { extraSearchPaths: [root] }), (e) => check(e, join(root, 'libkneeds.so')));
  });

  it('gives KILN_APP_NOT_FOUND and KILN_APP_NOT_ELF for bad apps', async () => {
    await assert.rejects(resolveElfClosure(join(dir, 'nope')), (e) => isKilnError(e, 'KILN_APP_NOT_FOUND'));
    await writeFile(join(dir, 'script.sh'), '#!/bin/sh\n');
    await assert.rejects(resolveElfClosure(join(dir, 'script.sh')), (e) => isKilnError(e, 'KILN_APP_NOT_ELF'));
  });
});

describe('resolveElfClosure in a sysroot', () => {
  /**
   * A miniature merged-/usr Debian: /lib and /lib64 are links into /usr, the interpreter link
   * is absolute (as on Debian), libselinux lives in an ld.so.conf directory, and a library of
   * the wrong machine comes first on the search path.
   */
  it('resolves symlinks inside the sysroot, skips wrong-machine candidates, reports ld.so.conf dirs', async () => {
    const root = join(dir, 'sysroot');
    const host = await resolveElfClosure('/usr/bin/ls');
    const multiarch = '/usr/lib/x86_64-linux-gnu';
    await mkdir(join(root, multiarch), { recursive: true });
    await mkdir(join(root, 'usr/lib64'), { recursive: true });
    await mkdir(join(root, 'usr/bin'), { recursive: true });
    await mkdir(join(root, 'usr/local/lib'), { recursive: true });
    await mkdir(join(root, 'opt/wrong'), { recursive: true });
    await mkdir(join(root, 'etc/ld.so.conf.d'), { recursive: true });
    await symlink('usr/lib', join(root, 'lib'));
    await symlink('usr/lib64', join(root, 'lib64'));
    await copyFile('/usr/bin/ls', join(root, 'usr/bin/ls'));
    await chmod(join(root, 'usr/bin/ls'), 0o755);
    await copyFile(host.interpreter!.hostPath, join(root, multiarch, 'ld-linux-x86-64.so.2'));
    await symlink('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', join(root, 'usr/lib64/ld-linux-x86-64.so.2'));
    for (const lib of host.libraries) {
      const where = lib.soname === 'libselinux.so.1' ? '/usr/local/lib' : multiarch;
      await copyFile(lib.hostPath, join(root, where, posix.basename(lib.hostPath)));
      if (posix.basename(lib.hostPath) !== lib.soname) await symlink(posix.basename(lib.hostPath), join(root, where, lib.soname));
    }
    await writeFile(join(root, 'etc/ld.so.conf'), 'include /etc/ld.so.conf.d/*.conf\n');
    await writeFile(join(root, 'etc/ld.so.conf.d/local.conf'), '# local libraries\n/usr/local/lib\n');
    // An aarch64 "libc.so.6" (e_machine patched) where the search starts.
    const libc = Buffer.from(await readFile(host.libraries.find((l) => l.soname === 'libc.so.6')!.hostPath));
    libc.writeUInt16LE(183, 18);
    await writeFile(join(root, 'opt/wrong/libc.so.6'), libc);

    const closure = await resolveElfClosure(join(root, 'usr/bin/ls'), { sysroot: root, extraSearchPaths: ['/opt/wrong'] });
    assert.equal(closure.app.guestPath, '/usr/bin/ls');
    assert.deepEqual(closure.interpreter, {
      loaderPath: '/lib64/ld-linux-x86-64.so.2',
      guestPath: '/usr/lib64/ld-linux-x86-64.so.2',
      hostPath: join(root, multiarch, 'ld-linux-x86-64.so.2'),
    });
    assert.deepEqual(closure.symlinks, [{ path: '/lib', target: 'usr/lib' }, { path: '/lib64', target: 'usr/lib64' }]);
    for (const lib of closure.libraries) assert.ok(lib.hostPath.startsWith(root + '/'), `${lib.hostPath} is inside the sysroot`);
    const found = closure.libraries.find((l) => l.soname === 'libc.so.6');
    assert.equal(found?.hostPath, join(root, multiarch, 'libc.so.6'));
    assert.equal(found.foundVia, 'default');
    const selinux = closure.libraries.find((l) => l.soname === 'libselinux.so.1');
    assert.equal(selinux?.foundVia, 'ld.so.conf');
    assert.deepEqual(closure.libraryPath, ['/usr/local/lib']);
    assert.deepEqual(closure.libraries.map((l) => l.soname).sort(), host.libraries.map((l) => l.soname).sort());
    assert.equal(dirname(closure.app.guestPath), '/usr/bin');
  });
});
