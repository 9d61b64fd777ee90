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
import { checkAppProvenance, readProvenance } from '../../src/toolchain/provenance.js';
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
  assert.deepEqual(readProvenance(out), { tuple: MUSL, wrapper: 'kiln-toolchain/1', compiler: toolchain.tuples[0]!.provenance.compiler });
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
  const env = { ...process.env, PKG_CONFIG_PATH: '/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/share/pkgconfig' };
  assert.equal(sh(pc, ['--modversion', 'kilntest'], env).stdout.trim(), '1.2');
  assert.equal(sh(pc, ['--cflags', 'kilntest'], env).stdout.trim(), `-I${sysroot}/usr/include/kilntest`);
  assert.equal(sh(pc, ['--libs', 'kilntest'], env).stdout.trim(), `-L${sysroot}/usr/lib -lkilntest -lm`);
  // A host package stays invisible, even with PKG_CONFIG_PATH pointing at the host's directories.
  const hostPc = sh('pkg-config', ['--list-package-names'], env).stdout.split('\n').find((name) => name && !['pkgconf', 'pkg-config'].includes(name));
  if (hostPc) assert.notEqual(sh(pc, ['--exists', hostPc], env).code, 0, hostPc);

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
