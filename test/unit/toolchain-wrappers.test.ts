import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createContext } from '../../src/context.js';
import { isKilnError, ErrorCodes } from '../../src/errors.js';
import { getTuple, TUPLES } from '../../src/toolchain/tuples.js';
import { muslSpecs } from '../../src/toolchain/specs.js';
import { shQuote } from '../../src/toolchain/wrappers.js';
import { cmakeToolchainFile, mesonCrossFile } from '../../src/toolchain/buildfiles.js';
import { installToolchain } from '../../src/toolchain/install.js';
import { checkAppProvenance, readProvenance, WRAPPER_VERSION } from '../../src/toolchain/provenance.js';
import type { ElfInfo } from '../../src/rootfs/elf.js';
import { shellEnvLines } from '../../src/toolchain/env.js';
import { tempDir } from '../helpers.js';

const MUSL = 'x86_64-kiln-linux-musl';
const GNU = 'x86_64-kiln-linux-gnu';

function sh(program: string, args: string[], env: NodeJS.ProcessEnv = process.env): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(program, args, { encoding: 'utf8', env });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

test('an unknown tuple is refused with the known ones listed', () => {
  assert.throws(
    () => getTuple('x86_64-rumprun-netbsd'),
    (error: unknown) => isKilnError(error, ErrorCodes.TUPLE_UNKNOWN) && TUPLES.every((t) => error.hint!.includes(t.name)),
  );
});

test('musl specs: static by default, sysroot before musl, no host library directories', () => {
  const specs = muslSpecs({ tuple: getTuple(MUSL), sysroot: '/s', noteObject: '/n.o' });
  assert.match(specs, /\*self_spec:\n\+ %\{!shared:%\{!static-pie:-static\}\}/);
  assert.match(specs, /-nostdinc -isystem \/s\/usr\/include -isystem \/usr\/include\/x86_64-linux-musl/);
  assert.match(specs, /\*link_libgcc:\n-L\/s\/usr\/lib -L\/usr\/lib\/x86_64-linux-musl -L \.%s\n/);
  assert.match(specs, /crtbeginT\.o%s.* \/n\.o\n/);
  assert.doesNotMatch(specs, /%D/);
});

test('shell quoting keeps any path one word', () => {
  assert.equal(shQuote("/a b/it's"), `'/a b/it'\\''s'`);
  const r = sh('/bin/sh', ['-c', `printf %s ${shQuote("/a b/it's $HOME `x`")}`]);
  assert.equal(r.stdout, "/a b/it's $HOME `x`");
});

test('CMake and Meson files name the wrappers and confine lookups to the sysroot', () => {
  const layout = { tuple: getTuple(MUSL), binDir: '/p/bin', sysroot: "/c/it's]=]", tools: ['gcc', 'g++', 'ar', 'strip', 'pkg-config'] };
  const cmake = cmakeToolchainFile(layout);
  assert.match(cmake, /set\(CMAKE_C_COMPILER \[=\[\/p\/bin\/x86_64-kiln-linux-musl-gcc\]=\]\)/);
  assert.match(cmake, /set\(CMAKE_FIND_ROOT_PATH \[==\[\/c\/it's\]=\]\]==\]\)/);
  assert.match(cmake, /CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY/);
  const meson = mesonCrossFile(layout);
  assert.match(meson, /^c = '\/p\/bin\/x86_64-kiln-linux-musl-gcc'$/m);
  assert.match(meson, /^sys_root = '\/c\/it\\'s\]=\]'$/m);
  assert.match(meson, /^cpu_family = 'x86_64'$/m);
});

test('toolchain env prints eval-able PATH and CONFIG_SITE lines', () => {
  assert.deepEqual(shellEnvLines('/x y/bin', '/s.site'), [`export PATH='/x y/bin':"$PATH"`, `export CONFIG_SITE='/s.site'`]);
});

test('installed wrappers: -dumpmachine, static musl with a provenance note, host paths refused, pkg-config confined', async (t) => {
  const cache = await tempDir('kiln-tc-unit-');
  const ctx = createContext({ paths: { cache, state: join(cache, 'state') } });
  const toolchain = await installToolchain(ctx, { prefix: join(cache, 'prefix') });
  const again = await installToolchain(createContext({ paths: { cache, state: join(cache, 'state') } }));
  assert.notEqual(again.prefix, toolchain.prefix, 'the default install lives in the cache, apart from --prefix installs');
  const gcc = join(toolchain.binDir, `${MUSL}-gcc`);
  for (const name of ['cc', 'gcc', 'c++', 'g++', 'cpp', 'ar', 'ranlib', 'nm', 'ld', 'strip', 'objcopy', 'objdump', 'readelf', 'pkg-config']) {
    assert.ok(toolchain.tuples[0]!.wrappers.includes(join(toolchain.binDir, `${MUSL}-${name}`)), name);
  }
  assert.equal(sh(gcc, ['-dumpmachine']).stdout, `${MUSL}\n`);
  assert.equal(sh(join(toolchain.binDir, `${GNU}-g++`), ['-dumpmachine']).stdout, `${GNU}\n`);

  const dir = await tempDir('kiln-tc-src-');
  const source = join(dir, 'hello.c');
  await writeFile(source, '#include <stdio.h>\nint main(void) { puts("hello from musl"); return 0; }\n');
  const out = join(dir, 'hello');
  const built = sh(gcc, ['-O2', source, '-o', out]);
  assert.equal(built.code, 0, built.stderr);
  assert.equal(sh(out, []).stdout, 'hello from musl\n');
  const elf = sh('readelf', ['-lW', out]).stdout;
  assert.doesNotMatch(elf, /INTERP/, 'static by default');
  assert.deepEqual(readProvenance(out), { tuple: MUSL, wrapper: WRAPPER_VERSION, compiler: toolchain.tuples[0]!.provenance.compiler });
  // The note survives strip (it is an allocated section).
  assert.equal(sh(join(toolchain.binDir, `${MUSL}-strip`), [out]).code, 0);
  assert.equal(readProvenance(out)?.tuple, MUSL);

  for (const args of [['-I/usr/include'], ['-I', '/usr/include/openssl'], ['-L/usr/lib/x86_64-linux-gnu'], ['-isystem', '/usr/local/include']]) {
    const r = sh(gcc, [...args, source, '-o', out]);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, new RegExp(`refusing host path ${args.at(-1)!.replace(/^-[IL]/, '')}:`), args.join(' '));
  }
  const viaEnv = sh(gcc, ['-E', '-v', '-x', 'c', '/dev/null', '-o', '/dev/null'], { ...process.env, CPATH: '/usr/include', C_INCLUDE_PATH: '/usr/local/include' });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.doesNotMatch(viaEnv.stderr.split('#include <...> search starts here:')[1] ?? '', /^ \/usr\/(local\/)?include$/m, 'CPATH does not bring host headers back');
  const direct = sh(gcc, [source, '/usr/lib/x86_64-linux-gnu/libc.a', '-o', out]);
  assert.match(direct.stderr, /refusing host path \/usr\/lib\/x86_64-linux-gnu\/libc\.a/);

  const sysroot = toolchain.tuples[0]!.sysroot;
  await mkdir(join(sysroot, 'usr/lib/pkgconfig'), { recursive: true });
  await writeFile(join(sysroot, 'usr/lib/pkgconfig/kilntest.pc'), 'prefix=/usr\nincludedir=${prefix}/include\nlibdir=${prefix}/lib\nName: kilntest\nDescription: t\nVersion: 1.2\nLibs: -L${libdir} -lkilntest\nLibs.private: -lm\nCflags: -I${includedir}/kilntest\n');
  const pc = join(toolchain.binDir, `${MUSL}-pkg-config`);
  const env = { ...process.env, PKG_CONFIG_PATH: '' };
  assert.equal(sh(pc, ['--modversion', 'kilntest'], env).stdout.trim(), '1.2');
  assert.equal(sh(pc, ['--cflags', 'kilntest'], env).stdout.trim(), `-I${sysroot}/usr/include/kilntest`);
  assert.equal(sh(pc, ['--libs', 'kilntest'], env).stdout.trim(), `-L${sysroot}/usr/lib -lkilntest -lm`);
  // A host package stays invisible; a host directory in PKG_CONFIG_PATH is refused, named, with the code.
  const hostPc = sh('pkg-config', ['--list-package-names'], env).stdout.split('\n').find((name) => name && !['pkgconf', 'pkg-config'].includes(name));
  if (hostPc) assert.notEqual(sh(pc, ['--exists', hostPc], env).code, 0, hostPc);
  const refused = sh(pc, ['--cflags', 'kilntest'], { ...process.env, PKG_CONFIG_PATH: 'relative/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/share/pkgconfig' });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^x86_64-kiln-linux-musl-pkg-config: error KILN_HOST_PATH_REFUSED: refusing host directory \/usr\/lib\/x86_64-linux-gnu\/pkgconfig in PKG_CONFIG_PATH: /);
  // A directory of the user's (relative ones are taken from the working directory) is searched before the sysroot.
  const mine = join(dir, 'prefix');
  await mkdir(join(mine, 'lib/pkgconfig'), { recursive: true });
  await writeFile(join(mine, 'lib/pkgconfig/kilntest.pc'), `prefix=${mine}\nName: kilntest\nDescription: t\nVersion: 9.9\nCflags: -I\${prefix}/include\n`);
  for (const [args, expected] of [[['--modversion'], '9.9'], [['--cflags'], `-I${mine}/include`]] as const) {
    const r = spawnSync(pc, [...args, 'kilntest'], { cwd: dir, encoding: 'utf8', env: { ...process.env, PKG_CONFIG_PATH: 'prefix/lib/pkgconfig' } });
    assert.equal(r.stdout.trim(), expected, r.stderr);
  }

  await t.test('clang wrappers (scripts/setup.sh installs clang)', async () => {
    assert.ok(toolchain.clang, 'clang is installed');
    const clang = join(toolchain.binDir, `${MUSL}-clang`);
    assert.equal(sh(clang, ['-dumpmachine']).stdout, `${MUSL}\n`);
    const obj = join(dir, 'hello.o');
    assert.equal(sh(clang, ['-Werror', '-c', source, '-o', obj]).code, 0, 'compiling adds no unused linker inputs');
    const r = sh(clang, ['-O2', obj, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sh(out, []).stdout, 'hello from musl\n');
    assert.doesNotMatch(sh('readelf', ['-lW', out]).stdout, /INTERP/);
    assert.equal(readProvenance(out)?.tuple, MUSL);
    assert.match(sh(clang, ['-v']).stderr, /clang version/, '`cc -v` with no input does not try to link');
  });

  assert.ok((await readFile(toolchain.tuples[0]!.specs, 'utf8')).includes(sysroot));
});

test('glibc tuple: static where it links, dynamic (with one note) where it does not, host paths refused in every form', async () => {
  const cache = await tempDir('kiln-tc-gnu-');
  const ctx = createContext({ paths: { cache, state: join(cache, 'state') } });
  const toolchain = await installToolchain(ctx, { prefix: join(cache, 'prefix'), tuples: [GNU] });
  const tool = (name: string): string => join(toolchain.binDir, `${GNU}-${name}`);
  const isStatic = (file: string): boolean => !/INTERP/.test(sh('readelf', ['-lW', file]).stdout);
  const dir = await tempDir('kiln-tc-gnu-src-');
  const hello = join(dir, 'hello.c');
  await writeFile(hello, '#include <stdio.h>\nint main(void) { puts("hello from glibc"); return 0; }\n');
  const out = join(dir, 'hello');
  const noteFree = (r: { stderr: string }): void => assert.doesNotMatch(r.stderr, /linked dynamically/);

  for (const driver of ['gcc', 'clang']) {
    const r = sh(tool(driver), ['-O2', hello, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    noteFree(r);
    assert.ok(isStatic(out), `${driver}: static by default`);
    assert.equal(sh(out, []).stdout, 'hello from glibc\n');
    assert.equal(readProvenance(out)?.tuple, GNU);
  }
  // Compiling is unaffected: the object is the one the plain compiler makes, then links static.
  const obj = join(dir, 'hello.o');
  assert.equal(sh(tool('gcc'), ['-c', hello, '-o', obj]).code, 0);
  assert.equal(sh(tool('gcc'), [obj, '-o', out]).code, 0);
  assert.ok(isStatic(out));

  // The opt-outs are silent and dynamic; -kiln-dynamic never reaches the compiler.
  for (const [args, env] of [[['-kiln-dynamic'], {}], [[], { KILN_LINK: 'dynamic' }], [['-Wl,-Bdynamic'], {}], [['-rdynamic'], {}], [['-pie', '-fPIE'], {}]] as const) {
    const r = sh(tool('gcc'), [...args, hello, '-o', out], { ...process.env, ...env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', `${args.join(' ')} ${JSON.stringify(env)}`);
    assert.ok(!isStatic(out), `${args.join(' ')} ${JSON.stringify(env)}: dynamic`);
  }
  assert.equal(sh(tool('gcc'), ['-kiln-dynamic', '-c', hello, '-o', obj]).code, 0, 'stripped on compile lines too');

  // A library with only a .so: the static link fails, the dynamic one runs, one note says why.
  const libDir = join(dir, 'lib');
  await mkdir(libDir);
  await writeFile(join(dir, 'kfoo.c'), 'int kfoo(void) { return 42; }\n');
  assert.equal(sh(tool('gcc'), ['-shared', '-fPIC', join(dir, 'kfoo.c'), '-o', join(libDir, 'libkfoo.so')]).code, 0);
  const usesFoo = join(dir, 'usefoo.c');
  await writeFile(usesFoo, '#include <stdio.h>\nint kfoo(void);\nint main(void) { printf("%d\\n", kfoo()); return 0; }\n');
  const fallback = sh(tool('gcc'), [usesFoo, `-L${libDir}`, '-lkfoo', `-Wl,-rpath,${libDir}`, '-o', out]);
  assert.equal(fallback.code, 0, fallback.stderr);
  assert.equal(fallback.stderr, `${GNU}-gcc: note: linked dynamically (no static libkfoo.a); bake carries its shared libraries into the image\n`);
  assert.ok(!isStatic(out));
  assert.equal(sh(out, []).stdout, '42\n');
  const named = sh(tool('gcc'), [usesFoo, join(libDir, 'libkfoo.so'), '-o', out]);
  assert.match(named.stderr, /linked dynamically \(.*libkfoo\.so is a shared library\)/);
  // What configure sees: a missing library still fails (with the dynamic link's own error).
  const missing = sh(tool('gcc'), [hello, '-lkiln_no_such_lib', '-o', out]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot find -lkiln_no_such_lib/);
  assert.doesNotMatch(missing.stderr, /linked dynamically/);
  // KILN_LINK=static: no fallback.
  const strict = sh(tool('gcc'), [usesFoo, `-L${libDir}`, '-lkfoo', '-o', out], { ...process.env, KILN_LINK: 'static' });
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /cannot find -lkfoo/);
  assert.match(sh(tool('gcc'), [hello, '-o', out], { ...process.env, KILN_LINK: 'sometimes' }).stderr, /KILN_LINK=sometimes: expected auto, static or dynamic/);
  // A shared library is a shared library, quietly.
  const shared = sh(tool('gcc'), ['-shared', '-fPIC', join(dir, 'kfoo.c'), '-o', join(dir, 'libk2.so')]);
  assert.equal(shared.stderr, '');

  // Host directories are refused however they are spelled, naming the path.
  const forms: [string[], string][] = [
    [['-L/usr/lib'], '/usr/lib'],
    [['-L', '/usr/lib/x86_64-linux-gnu'], '/usr/lib/x86_64-linux-gnu'],
    [['-Wl,-L/usr/lib'], '/usr/lib'],
    [['-Wl,-L,/usr/local/lib'], '/usr/local/lib'],
    [['-Wl,--library-path=/lib/x86_64-linux-gnu'], '/lib/x86_64-linux-gnu'],
    [['-Wl,-rpath-link,/usr/lib/x86_64-linux-gnu'], '/usr/lib/x86_64-linux-gnu'],
    [['-Wl,-rpath-link=/usr/lib'], '/usr/lib'],
    [['-Xlinker', '-L/usr/lib64'], '/usr/lib64'],
    [['-Xlinker', '-rpath-link', '-Xlinker', '/usr/lib'], '/usr/lib'],
    [['-I', '/usr/include'], '/usr/include'],
    [['-iquote/usr/local/include'], '/usr/local/include'],
  ];
  for (const [args, path] of forms) {
    for (const driver of ['gcc', 'g++', 'clang']) {
      const r = sh(tool(driver), [...args, hello, '-o', out]);
      assert.equal(r.code, 1, `${driver} ${args.join(' ')}`);
      assert.ok(r.stderr.startsWith(`${GNU}-${driver}: error KILN_HOST_PATH_REFUSED: refusing host path ${path}: `), `${driver} ${args.join(' ')}: ${r.stderr}`);
    }
  }
  // -rpath names a directory inside the image at run time (libtool passes -rpath /usr/lib): allowed.
  assert.equal(sh(tool('gcc'), ['-Wl,-rpath,/usr/lib', hello, '-o', out]).code, 0);
  // The musl wrappers check linker arguments the same way.
  const musl = await installToolchain(ctx, { prefix: join(cache, 'prefix-musl'), tuples: [MUSL] });
  const r = sh(join(musl.binDir, `${MUSL}-gcc`), ['-Wl,-L,/usr/lib/x86_64-linux-gnu', hello, '-o', out]);
  assert.match(r.stderr, /refusing host path \/usr\/lib\/x86_64-linux-gnu:/);
});

test('bake warns about an app built for a tuple the image cannot run, and is quiet otherwise', () => {
  const withNote = (tuple: string): ElfInfo =>
    ({ notes: [{ name: 'kiln', type: 1, desc: Buffer.from(JSON.stringify({ tuple, wrapper: 'kiln-toolchain/1', compiler: 'gcc 12' }) + '\0') }] }) as unknown as ElfInfo;
  const known = [MUSL, GNU];
  assert.deepEqual(checkAppProvenance(withNote(MUSL), 'x86_64', 'app', known), { provenance: { tuple: MUSL, wrapper: 'kiln-toolchain/1', compiler: 'gcc 12' } });
  const other = checkAppProvenance(withNote('aarch64-kiln-linux-musl'), 'x86_64', 'app', known);
  assert.equal(other.warning?.code, 'KILN_APP_OTHER_TUPLE');
  assert.match(other.warning!.message, /app was built for aarch64-kiln-linux-musl/);
  assert.deepEqual(checkAppProvenance({ notes: [] } as unknown as ElfInfo, 'x86_64', 'app', known), {});
});
