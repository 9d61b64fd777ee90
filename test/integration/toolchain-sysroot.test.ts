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
 * tuple's sysroot (make install DESTDIR="$(kiln sysroot ...)"), and the next package finds it
 * through the pkg-config wrapper and libtool, never through the host. Uses a private cache so
 * the sysroot starts empty. Nothing is booted here (the other toolchain tests boot).
 */

const MUSL = 'x86_64-kiln-linux-musl';

async function files(dir: string, contents: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(contents)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
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
  await files(app, {
    'configure.ac': 'AC_INIT([app], [1.0])\nAM_INIT_AUTOMAKE([foreign])\nAC_PROG_CC\nLT_INIT\nPKG_CHECK_MODULES([GREET], [greet >= 2])\nAC_CONFIG_FILES([Makefile])\nAC_OUTPUT\n',
    'Makefile.am': 'bin_PROGRAMS = app\napp_SOURCES = app.c\napp_CFLAGS = $(GREET_CFLAGS)\napp_LDADD = $(GREET_LIBS)\n',
    'app.c': '#include <greet.h>\nint main(void) { greet("app"); return 0; }\n',
  });
  await run('autoreconf', ['-fi'], { cwd: app, env });
  const configure = await run('./configure', [`--host=${MUSL}`, '--prefix=/usr'], { cwd: app, env });
  assert.match(configure.stdout, new RegExp(`checking for ${MUSL}-pkg-config\\.\\.\\. .*${MUSL}-pkg-config`));
  assert.match(configure.stdout, /checking for greet >= 2\.\.\. yes/);
  assert.match(configure.stdout, new RegExp(`checking for sysroot\\.\\.\\. ${sysroot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  await run('make', ['-j2'], { cwd: app, env });
  const binary = join(app, 'app');
  assert.equal(readProvenance(binary)?.tuple, MUSL);
  // Static musl: it runs on the host kernel as it will in the image.
  assert.equal((await run(binary, [])).stdout, 'greetings, app, from the sysroot\n');
});
