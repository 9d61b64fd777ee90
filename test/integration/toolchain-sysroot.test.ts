import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createContext } from '../../src/context.js';
import { installToolchain } from '../../src/toolchain/install.js';
import { readProvenance } from '../../src/toolchain/provenance.js';
import { run } from '../../src/util/exec.js';
import { tempDir } from '../helpers.js';

/**
 * The package flow of the issue: a library built with autotools/libtool is installed into the
 * tuple's sysroot (make install DESTDIR="$(kiln sysroot ...)"), or into a prefix of its own and
 * named in PKG_CONFIG_PATH, and the next package finds it through the pkg-config wrapper and
 * libtool, never through the host. Uses private caches so each sysroot starts empty. Nothing is
 * booted here (the other toolchain tests boot); static musl programs run on the host kernel as
 * they will in the image.
 */

const MUSL = 'x86_64-kiln-linux-musl';

async function files(dir: string, contents: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(contents)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
}

/** A program that finds its library with PKG_CHECK_MODULES, configured for the tuple; returns configure's output. */
async function consumer(dir: string, module: string, source: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string }> {
  await files(dir, {
    'configure.ac': `AC_INIT([app], [1.0])\nAM_INIT_AUTOMAKE([foreign])\nAC_PROG_CC\nLT_INIT\nPKG_CHECK_MODULES([LIB], [${module}])\nAC_CONFIG_FILES([Makefile])\nAC_OUTPUT\n`,
    'Makefile.am': 'bin_PROGRAMS = app\napp_SOURCES = app.c\napp_CFLAGS = $(LIB_CFLAGS)\napp_LDADD = $(LIB_LIBS)\n',
    'app.c': source,
  });
  await run('autoreconf', ['-fi'], { cwd: dir, env });
  return run('./configure', [`--host=${MUSL}`, '--prefix=/usr'], { cwd: dir, env });
}

test('a library installed into the sysroot is found by the next package (pkg-config + libtool)', async () => {
  const cache = await tempDir('kiln-tc-sysroot-');
  const ctx = createContext({ paths: { cache, state: join(cache, 'state') } });
  const toolchain = await installToolchain(ctx, { tuples: [MUSL] });
  const sysroot = toolchain.tuples[0]!.sysroot;
  const env = { ...process.env, PATH: `${toolchain.binDir}:${process.env.PATH ?? ''}`, CONFIG_SITE: toolchain.configSite, LC_ALL: 'C' };

  const lib = join(cache, 'libgreet');
  await files(lib, {
    'configure.ac': 'AC_INIT([greet], [2.1])\nAM_INIT_AUTOMAKE([foreign])\nAC_PROG_CC\nLT_INIT\nAC_CONFIG_FILES([Makefile greet.pc])\nAC_OUTPUT\n',
    'Makefile.am': [
      'lib_LTLIBRARIES = libgreet.la',
      'libgreet_la_SOURCES = greet.c',
      'include_HEADERS = greet.h',
      'pkgconfigdir = $(libdir)/pkgconfig',
      'pkgconfig_DATA = greet.pc',
      '',
    ].join('\n'),
    'greet.pc.in': 'prefix=@prefix@\nexec_prefix=@exec_prefix@\nlibdir=@libdir@\nincludedir=@includedir@\nName: greet\nDescription: greeting\nVersion: @VERSION@\nLibs: -L${libdir} -lgreet\nCflags: -I${includedir}\n',
    'greet.c': '#include <stdio.h>\n#include "greet.h"\nvoid greet(const char *who) { printf("greetings, %s, from the sysroot\\n", who); }\n',
    'greet.h': 'void greet(const char *who);\n',
  });
  await run('autoreconf', ['-fi'], { cwd: lib, env });
  await run('./configure', [`--host=${MUSL}`, '--prefix=/usr'], { cwd: lib, env });
  await run('make', ['-j2'], { cwd: lib, env });
  await run('make', ['install', `DESTDIR=${sysroot}`], { cwd: lib, env });
  await access(join(sysroot, 'usr/lib/libgreet.a'));
  await access(join(sysroot, 'usr/include/greet.h'));

  const app = join(cache, 'app');
  const configure = await consumer(app, 'greet >= 2', '#include <greet.h>\nint main(void) { greet("app"); return 0; }\n', env);
  assert.match(configure.stdout, new RegExp(`checking for ${MUSL}-pkg-config\\.\\.\\. .*${MUSL}-pkg-config`));
  assert.match(configure.stdout, /checking for greet >= 2\.\.\. yes/);
  assert.match(configure.stdout, new RegExp(`checking for sysroot\\.\\.\\. ${sysroot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  await run('make', ['-j2'], { cwd: app, env });
  const binary = join(app, 'app');
  assert.equal(readProvenance(binary)?.tuple, MUSL);
  // Static musl: it runs on the host kernel as it will in the image.
  assert.equal((await run(binary, [])).stdout, 'greetings, app, from the sysroot\n');
});

test('a library installed into a prefix of its own is found through PKG_CONFIG_PATH, beside one in the sysroot', async () => {
  const cache = await tempDir('kiln-tc-prefix-');
  const ctx = createContext({ paths: { cache, state: join(cache, 'state') } });
  const toolchain = await installToolchain(ctx, { tuples: [MUSL] });
  const sysroot = toolchain.tuples[0]!.sysroot;
  const tool = (name: string): string => join(toolchain.binDir, `${MUSL}-${name}`);
  const env = { ...process.env, PATH: `${toolchain.binDir}:${process.env.PATH ?? ''}`, CONFIG_SITE: toolchain.configSite, LC_ALL: 'C' };

  // libbar, as a package installed into the sysroot leaves it (prefix=/usr): libfoo requires it.
  const bar = join(cache, 'libbar');
  await files(bar, { 'bar.c': 'int bar_answer(void) { return 42; }\n', 'bar.h': 'int bar_answer(void);\n' });
  await run(tool('gcc'), ['-O2', '-c', 'bar.c', '-o', 'bar.o'], { cwd: bar, env });
  await run(tool('ar'), ['rcs', join(sysroot, 'usr/lib/libbar.a'), 'bar.o'], { cwd: bar, env });
  await mkdir(join(sysroot, 'usr/include/bar'), { recursive: true });
  await writeFile(join(sysroot, 'usr/include/bar/bar.h'), 'int bar_answer(void);\n');
  await writeFile(join(sysroot, 'usr/lib/pkgconfig/bar.pc'), 'prefix=/usr\nincludedir=${prefix}/include\nlibdir=${prefix}/lib\nName: bar\nDescription: bar\nVersion: 1.0\nLibs: -L${libdir} -lbar\nCflags: -I${includedir}/bar\n');

  // libfoo: a real autotools library, configured --host=<tuple> --prefix=$PWD/prefix, make install.
  const lib = join(cache, 'libfoo');
  const prefix = join(lib, 'prefix');
  await files(lib, {
    'configure.ac': 'AC_INIT([foo], [3.1])\nAM_INIT_AUTOMAKE([foreign])\nAC_PROG_CC\nLT_INIT\nPKG_CHECK_MODULES([BAR], [bar])\nAC_CONFIG_FILES([Makefile libfoo.pc])\nAC_OUTPUT\n',
    'Makefile.am': [
      'lib_LTLIBRARIES = libfoo.la',
      'libfoo_la_SOURCES = foo.c',
      'libfoo_la_CFLAGS = $(BAR_CFLAGS)',
      'include_HEADERS = foo.h',
      'pkgconfigdir = $(libdir)/pkgconfig',
      'pkgconfig_DATA = libfoo.pc',
      '',
    ].join('\n'),
    'libfoo.pc.in': 'prefix=@prefix@\nexec_prefix=@exec_prefix@\nlibdir=@libdir@\nincludedir=@includedir@\nName: libfoo\nDescription: foo\nVersion: @VERSION@\nRequires: bar\nLibs: -L${libdir} -lfoo\nCflags: -I${includedir}\n',
    'foo.c': '#include <stdio.h>\n#include <bar.h>\n#include "foo.h"\nvoid foo_say(const char *who) { printf("%s: libfoo from a prefix, %d from libbar in the sysroot\\n", who, bar_answer()); }\n',
    'foo.h': 'void foo_say(const char *who);\n',
  });
  await run('autoreconf', ['-fi'], { cwd: lib, env });
  await run('./configure', [`--host=${MUSL}`, `--prefix=${prefix}`], { cwd: lib, env });
  await run('make', ['-j2', 'install'], { cwd: lib, env });
  await access(join(prefix, 'lib/libfoo.a'));

  // The command, word for word.
  const withPrefix = { ...env, PKG_CONFIG_PATH: join(prefix, 'lib/pkgconfig') };
  const cflags = await run(tool('pkg-config'), ['--cflags', 'libfoo'], { env: withPrefix });
  assert.equal(cflags.stdout.trim(), `-I${prefix}/include -I${sysroot}/usr/include/bar`);
  const libs = await run(tool('pkg-config'), ['--libs', 'libfoo'], { env: withPrefix });
  assert.equal(libs.stdout.trim(), `-L${prefix}/lib -lfoo -L${sysroot}/usr/lib -lbar`);
  assert.equal((await run(tool('pkg-config'), ['--variable=includedir', 'libfoo'], { env: withPrefix })).stdout.trim(), `${prefix}/include`);

  // A second autotools project consumes it through the wrapper.
  const app = join(cache, 'app');
  const configure = await consumer(app, 'libfoo >= 3', '#include <foo.h>\nint main(void) { foo_say("app"); return 0; }\n', withPrefix);
  assert.match(configure.stdout, /checking for libfoo >= 3\.\.\. yes/);
  await run('make', ['-j2'], { cwd: app, env: withPrefix });
  const binary = join(app, 'app');
  assert.equal(readProvenance(binary)?.tuple, MUSL);
  assert.equal((await run(binary, [])).stdout, 'app: libfoo from a prefix, 42 from libbar in the sysroot\n');

  // A host directory in PKG_CONFIG_PATH is refused, named, with the code, whatever else is there.
  for (const hostDir of ['/usr/lib/x86_64-linux-gnu/pkgconfig', '/usr/share/pkgconfig', '/usr/local/lib/pkgconfig']) {
    const refused = await run(tool('pkg-config'), ['--cflags', 'libfoo'], { env: { ...env, PKG_CONFIG_PATH: `${join(prefix, 'lib/pkgconfig')}:${hostDir}` }, check: false });
    assert.equal(refused.code, 1, hostDir);
    assert.equal(refused.stdout, '');
    assert.ok(refused.stderr.startsWith(`${MUSL}-pkg-config: error KILN_HOST_PATH_REFUSED: refusing host directory ${hostDir} in PKG_CONFIG_PATH: `), refused.stderr);
    assert.match(refused.stderr, /hint: .*kiln sysroot x86_64-kiln-linux-musl/);
  }
});
