import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { getTarget } from '../../src/targets/registry.js';
import { installToolchain, type InstalledToolchain } from '../../src/toolchain/install.js';
import { readProvenance } from '../../src/toolchain/provenance.js';
import { verifyToolchain } from '../../src/toolchain/verify.js';
import { bootCheck } from '../../src/launch/boot-check.js';
import { isKilnError, ErrorCodes } from '../../src/errors.js';
import { run } from '../../src/util/exec.js';
import { launchCaptured, tempDir, testContext } from '../helpers.js';
import type { ImageManifest } from '../../src/image/manifest.js';

/**
 * Real build systems over the kiln wrappers, each project generated here, cross-built for a
 * kiln tuple, baked and booted under TCG: autotools (autoconf/automake/libtool, a static
 * library and a program using it), CMake (toolchain file), Meson (cross file), C++17 on the
 * glibc tuple (exceptions, iostream, threads; linked static) and the glibc tuple's dynamic
 * fallback (a library with only a .so, carried into the image by bake).
 */

const MUSL = 'x86_64-kiln-linux-musl';
const GNU = 'x86_64-kiln-linux-gnu';
const { ctx } = testContext();
let toolchain: InstalledToolchain | undefined;

async function wrappers(): Promise<InstalledToolchain> {
  toolchain ??= await installToolchain(ctx);
  return toolchain;
}

/** The environment a user gets from `eval "$(kiln toolchain env)"`. */
async function userEnv(): Promise<NodeJS.ProcessEnv> {
  const tc = await wrappers();
  return { ...process.env, PATH: `${tc.binDir}:${process.env.PATH ?? ''}`, CONFIG_SITE: tc.configSite, LC_ALL: 'C' };
}

async function files(dir: string, contents: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(contents)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
}

async function bakeAndBoot(app: string, args: string[] = [], check?: (manifest: ImageManifest) => void): Promise<string> {
  const image = await bake(ctx, { appPath: app, target: getTarget('qemu') });
  // bake reads the provenance note into the manifest.
  assert.equal(image.manifest.app.provenance?.tuple, readProvenance(app)?.tuple);
  assert.ok(image.manifest.app.provenance);
  check?.(image.manifest);
  const result = await launchCaptured(ctx, { imageDir: image.dir, args, network: 'none' });
  assert.equal(result.exitCode, 0, result.output.slice(-2000));
  return result.output;
}

const LIB_C = `#include "greet.h"
#include <stdio.h>
int greet(char *out, int size, const char *who) { return snprintf(out, size, "hello, %s, from libgreet", who); }
`;
const GREET_H = 'int greet(char *out, int size, const char *who);\n';
const MAIN_C = `#include <stdio.h>
#include "greet.h"
int main(int argc, char **argv) {
  char buf[128];
  greet(buf, sizeof buf, argc > 1 ? argv[1] : "nobody");
  printf("%s (%s)\\n", buf, CONFIG_HOST);
  return 0;
}
`;

test('autotools: ./configure --host=x86_64-kiln-linux-musl && make, then bake and boot', async () => {
  const dir = await tempDir('kiln-tc-autotools-');
  await files(dir, {
    'configure.ac': [
      'AC_INIT([greet], [1.0])',
      'AM_INIT_AUTOMAKE([foreign subdir-objects])',
      'AC_PROG_CC',
      'LT_INIT([disable-shared])',
      // A run test: under --host it must take the cross-compiling branch, not run anything.
      'AC_RUN_IFELSE([AC_LANG_PROGRAM([], [return 0;])], [ran=yes], [ran=no], [ran=cross])',
      'AC_DEFINE_UNQUOTED([CONFIG_HOST], ["$host / run-test: $ran"], [host])',
      'AC_CONFIG_HEADERS([config.h])',
      'AC_CONFIG_FILES([Makefile])',
      'AC_OUTPUT',
      '',
    ].join('\n'),
    'Makefile.am': [
      'noinst_LTLIBRARIES = libgreet.la',
      'libgreet_la_SOURCES = lib/greet.c lib/greet.h',
      'bin_PROGRAMS = greet',
      'greet_SOURCES = src/main.c',
      'greet_CPPFLAGS = -I$(srcdir)/lib -include config.h',
      'greet_LDADD = libgreet.la',
      '',
    ].join('\n'),
    'lib/greet.c': LIB_C,
    'lib/greet.h': GREET_H,
    'src/main.c': MAIN_C,
  });
  const env = await userEnv();
  await run('autoreconf', ['-fi'], { cwd: dir, env });
  const configure = await run('./configure', [`--host=${MUSL}`, '--prefix=/usr'], { cwd: dir, env });
  assert.match(configure.stdout, new RegExp(`checking for ${MUSL}-gcc\\.\\.\\. ${MUSL}-gcc`));
  assert.match(configure.stdout, /checking whether we are cross compiling\.\.\. yes/);
  await run('make', ['-j2'], { cwd: dir, env });
  const app = join(dir, 'greet');
  assert.equal(readProvenance(app)?.tuple, MUSL);
  const output = await bakeAndBoot(app, ['kiln']);
  assert.match(output, new RegExp(`hello, kiln, from libgreet \\(${MUSL} / run-test: cross\\)`));
});

test('CMake: the toolchain file cross-builds for the musl tuple', async () => {
  const dir = await tempDir('kiln-tc-cmake-');
  await files(dir, {
    'CMakeLists.txt': [
      'cmake_minimum_required(VERSION 3.13)',
      'project(greet C)',
      'add_library(greet STATIC lib/greet.c)',
      'add_executable(app src/main.c)',
      'target_include_directories(app PRIVATE lib)',
      'target_compile_definitions(app PRIVATE "CONFIG_HOST=\\"cmake ${CMAKE_C_COMPILER_TARGET} cross=${CMAKE_CROSSCOMPILING}\\"")',
      'target_link_libraries(app greet)',
      '',
    ].join('\n'),
    'lib/greet.c': LIB_C,
    'lib/greet.h': GREET_H,
    'src/main.c': MAIN_C,
  });
  const tc = await wrappers();
  const cmakeFile = tc.tuples.find((t) => t.tuple === MUSL)!.cmake;
  const env = await userEnv();
  await run('cmake', ['-S', dir, '-B', join(dir, 'build'), `-DCMAKE_TOOLCHAIN_FILE=${cmakeFile}`], { env });
  await run('cmake', ['--build', join(dir, 'build'), '-j2'], { env });
  const app = join(dir, 'build', 'app');
  assert.equal(readProvenance(app)?.tuple, MUSL);
  assert.match(await bakeAndBoot(app, ['cmake']), new RegExp(`hello, cmake, from libgreet \\(cmake ${MUSL} cross=TRUE\\)`));
});

test('Meson: the cross file cross-builds for the musl tuple', async () => {
  const dir = await tempDir('kiln-tc-meson-');
  await files(dir, {
    'meson.build': [
      "project('greet', 'c')",
      "greet = static_library('greet', 'lib/greet.c')",
      "executable('app', 'src/main.c', include_directories: include_directories('lib'), link_with: greet,",
      "  c_args: ['-DCONFIG_HOST=\"meson ' + host_machine.cpu_family() + ' cross=' + meson.is_cross_build().to_string() + '\"'])",
      '',
    ].join('\n'),
    'lib/greet.c': LIB_C,
    'lib/greet.h': GREET_H,
    'src/main.c': MAIN_C,
  });
  const tc = await wrappers();
  const crossFile = tc.tuples.find((t) => t.tuple === MUSL)!.meson;
  const env = await userEnv();
  await run('meson', ['setup', '--cross-file', crossFile, join(dir, 'build'), dir], { env });
  await run('ninja', ['-C', join(dir, 'build')], { env });
  const app = join(dir, 'build', 'app');
  assert.equal(readProvenance(app)?.tuple, MUSL);
  assert.match(await bakeAndBoot(app, ['meson']), /hello, meson, from libgreet \(meson x86_64 cross=true\)/);
});

test('C++17 on the glibc tuple: exceptions, iostream and threads build, bake and run', async () => {
  const dir = await tempDir('kiln-tc-cxx-');
  const source = join(dir, 'app.cc');
  await writeFile(
    source,
    `#include <iostream>
#include <stdexcept>
#include <thread>
#include <vector>
#include <optional>
#include <mutex>
int main(int argc, char **argv) {
  std::mutex m;
  int caught = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; i++)
    threads.emplace_back([&, i] {
      try { if (i % 2 == 0) throw std::runtime_error("even"); }
      catch (const std::exception &e) { std::lock_guard<std::mutex> lock(m); caught++; }
    });
  for (auto &t : threads) t.join();
  std::optional<std::string> who = argc > 1 ? std::optional<std::string>(argv[1]) : std::nullopt;
  std::cout << "c++17 " << who.value_or("nobody") << " caught " << caught << std::endl;
  return 0;
}
`,
  );
  const env = await userEnv();
  const app = join(dir, 'app');
  const built = await run(`${GNU}-g++`, ['-std=c++17', '-O2', '-pthread', source, '-o', app], { env });
  assert.equal(built.stderr, '', 'glibc and libstdc++ link statically, without a fallback note');
  assert.equal(readProvenance(app)?.tuple, GNU);
  assert.match(await bakeAndBoot(app, ['kiln'], (manifest) => {
    assert.equal(manifest.app.linkage, 'static');
    assert.equal(manifest.files.filter((file) => file.role === 'library').length, 0);
  }), /c\+\+17 kiln caught 2/);
});

test('glibc tuple: a library with only a .so in the sysroot links dynamically, and bake carries it and libc', async () => {
  const dir = await tempDir('kiln-tc-gnu-dyn-');
  await files(dir, { 'lib/greet.c': LIB_C, 'lib/greet.h': GREET_H, 'src/main.c': MAIN_C });
  const env = await userEnv();
  // Installed into the tuple's sysroot as a package would be, with no static archive beside it.
  // The name is this test's own: the shared test cache's sysroot is left as it was found.
  const installed = join((await wrappers()).tuples.find((t) => t.tuple === GNU)!.sysroot, 'usr/lib/libkilnfallback.so');
  try {
    await run(`${GNU}-gcc`, ['-shared', '-fPIC', '-O2', join(dir, 'lib/greet.c'), '-o', installed], { env });
    const app = join(dir, 'greet');
    const built = await run(`${GNU}-gcc`, ['-O2', `-I${join(dir, 'lib')}`, '-DCONFIG_HOST="glibc dynamic"', join(dir, 'src/main.c'), '-lkilnfallback', '-o', app], { env });
    assert.match(built.stderr, /note: linked dynamically \(no static libkilnfallback\.a\)/);
    assert.equal(readProvenance(app)?.tuple, GNU);
    const output = await bakeAndBoot(app, ['fallback'], (manifest) => {
      assert.equal(manifest.app.linkage, 'dynamic');
      const libraries = manifest.files.filter((file) => file.role === 'library').map((file) => file.path);
      assert.ok(libraries.includes(installed), libraries.join(' '));
      assert.ok(libraries.some((path) => path.endsWith('/libc.so.6')), libraries.join(' '));
    });
    assert.match(output, /hello, fallback, from libgreet \(glibc dynamic\)/);
  } finally {
    await rm(installed, { force: true });
  }
});

test('the verdict: the check program also runs under the image kernel (TCG), and is recorded', async () => {
  const tc = await wrappers();
  const verdict = await verifyToolchain(ctx, tc, { tuple: MUSL, boot: bootCheck(ctx), force: true });
  assert.equal(verdict.ok, true, JSON.stringify(verdict.steps));
  assert.deepEqual(verdict.ranOn, ['host', 'image']);
  // Recorded: asking again (even with boot) does not rebuild or boot.
  const again = await verifyToolchain(ctx, tc, { tuple: MUSL, boot: () => Promise.reject(new Error('must not boot again')) });
  assert.deepEqual(again, verdict);
});

test('CMake over clang (when installed): same toolchain file shape, clang wrappers', async (t) => {
  // scripts/setup.sh installs clang, so a missing clang fails here instead of hiding the test.
  const clangToolchain = await installToolchain(ctx, { cc: 'clang', tuples: [MUSL] });
  const dir = await tempDir('kiln-tc-cmake-clang-');
  await files(dir, {
    'CMakeLists.txt': ['cmake_minimum_required(VERSION 3.13)', 'project(greet C)', 'add_executable(app src/main.c lib/greet.c)', 'target_include_directories(app PRIVATE lib)', 'target_compile_definitions(app PRIVATE "CONFIG_HOST=\\"${CMAKE_C_COMPILER_ID}\\"")', ''].join('\n'),
    'lib/greet.c': LIB_C,
    'lib/greet.h': GREET_H,
    'src/main.c': MAIN_C,
  });
  const cmakeFile = clangToolchain.tuples[0]!.cmake;
  await run('cmake', ['-S', dir, '-B', join(dir, 'build'), `-DCMAKE_TOOLCHAIN_FILE=${cmakeFile}`], { env: { ...process.env, LC_ALL: 'C' } });
  await run('cmake', ['--build', join(dir, 'build')], { env: { ...process.env, LC_ALL: 'C' } });
  const app = join(dir, 'build', 'app');
  assert.match(readProvenance(app)?.compiler ?? '', /^clang /);
  assert.match(await bakeAndBoot(app, ['clang']), /hello, clang, from libgreet \(Clang\)/);
});
