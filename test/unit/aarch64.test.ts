import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { isArm64Image, parseArm64Image, ARM64_IMAGE_MAGIC } from '../../src/components/arm64-image.js';
import { ARCHS } from '../../src/arch.js';
import { muslSpecs } from '../../src/toolchain/specs.js';
import { archOfTuple, getTuple, TUPLES, tuplesForArch } from '../../src/toolchain/tuples.js';
import { generateWrappers } from '../../src/toolchain/wrappers.js';
import type { HostCompiler } from '../../src/toolchain/compiler.js';

/** A synthetic arm64 Image: the 64-byte header, then the kernel banner somewhere in its data. */
function fakeImage(imageSize: bigint, banner = 'Linux version 6.1.0-56-cloud-arm64 (debian-kernel@lists.debian.org) #1 SMP\0'): Buffer {
  const image = Buffer.alloc(4096);
  image.writeBigUInt64LE(0n, 8); // text_offset
  image.writeBigUInt64LE(imageSize, 16);
  image.writeBigUInt64LE(0xan, 24); // little-endian, 4K pages
  image.writeUInt32LE(ARM64_IMAGE_MAGIC, 56);
  image.write(banner, 1000, 'latin1');
  return image;
}

test('arm64 Image header: size, release from the banner, gzip accepted', () => {
  const image = fakeImage(27983872n);
  assert.equal(isArm64Image(image), true);
  const info = parseArm64Image(image, 'vmlinuz');
  assert.equal(info.imageSize, 27983872);
  assert.equal(info.release, '6.1.0-56-cloud-arm64');
  assert.equal(info.littleEndian, true);
  assert.equal(info.compressed, false);
  const gz = parseArm64Image(gzipSync(image), 'vmlinuz.gz');
  assert.equal(gz.compressed, true);
  assert.equal(gz.release, '6.1.0-56-cloud-arm64');
});

test('arm64 Image header: what is not one is refused with the reason', () => {
  const notImage = Buffer.alloc(4096);
  assert.equal(isArm64Image(notImage), false);
  assert.throws(() => parseArm64Image(notImage, 'x'), (error: Error & { code?: string }) => error.code === 'KILN_KERNEL_INVALID' && /magic/.test(error.message));
  assert.throws(() => parseArm64Image(fakeImage(0n), 'x'), /image_size is 0/);
  assert.throws(() => parseArm64Image(fakeImage(1n, 'no banner here'), 'x'), /no "Linux version" banner/);
  assert.throws(() => parseArm64Image(Buffer.from([0x1f, 0x8b, 1, 2, 3]), 'x'), /gzip stream is damaged/);
});

test("Debian's arm64 cloud kernel is a known kernel architecture", () => {
  const { dpkgArch, kernelPackage, kernelFormat } = ARCHS.aarch64;
  assert.deepEqual({ dpkgArch, kernelPackage, kernelFormat }, { dpkgArch: 'arm64', kernelPackage: 'linux-image-cloud-arm64', kernelFormat: 'arm64-image' });
});

test('aarch64-kiln-linux-musl: a cross tuple over Debian packages, listed with the others', () => {
  const tuple = getTuple('aarch64-kiln-linux-musl');
  assert.equal(tuple.arch, 'aarch64');
  assert.deepEqual(tuple.cross?.packages, ['gcc-aarch64-linux-gnu', 'binutils-aarch64-linux-gnu']);
  assert.deepEqual(tuple.libcSource, { kind: 'debian-download', package: 'musl-dev', dpkgArch: 'arm64' });
  assert.deepEqual(tuplesForArch('aarch64'), ['aarch64-kiln-linux-musl']);
  assert.equal(archOfTuple('aarch64-kiln-linux-musl'), 'aarch64');
  assert.ok(TUPLES.some((t) => t.name === 'x86_64-kiln-linux-musl'));
  assert.throws(() => getTuple('aarch64-linux-musl'), (error: Error & { hint?: string }) => /aarch64-kiln-linux-musl/.test(error.hint ?? ''));
});

test('aarch64 specs: the arch-neutral cc1 rule, musl loader and the A53 erratum flag; x86 keeps its own', () => {
  const libc = '/cache/libc/abc/root';
  const tuple = { ...getTuple('aarch64-kiln-linux-musl'), libcInclude: `${libc}/usr/include/aarch64-linux-musl`, libcLib: `${libc}/usr/lib/aarch64-linux-musl` };
  const specs = muslSpecs({ tuple, sysroot: '/s', noteObject: '/n.o' });
  assert.doesNotMatch(specs, /cc1_cpu/, 'aarch64 gcc has no cc1_cpu spec');
  assert.match(specs, /%rename cc1 kiln_old_cc1\n/);
  assert.match(specs, /\*cc1:\n%\(kiln_old_cc1\) -nostdinc -isystem \/s\/usr\/include -isystem \/cache\/libc\/abc\/root\/usr\/include\/aarch64-linux-musl/);
  assert.match(specs, /-dynamic-linker \/lib\/ld-musl-aarch64\.so\.1 .* --fix-cortex-a53-843419\n/);
  assert.match(specs, /static:\/cache\/libc\/abc\/root\/usr\/lib\/aarch64-linux-musl\/crt1\.o/);
  const x86 = muslSpecs({ tuple: getTuple('x86_64-kiln-linux-musl'), sysroot: '/s', noteObject: '/n.o' });
  assert.match(x86, /-dynamic-linker \/lib\/ld-musl-x86_64\.so\.1 -nostdlib/);
  assert.doesNotMatch(x86, /fix-cortex/);
});

test('aarch64 wrappers: -dumpmachine answers the tuple, the downloaded musl is allowed, C++ explains itself', () => {
  const compiler: HostCompiler = { kind: 'gcc', cc: '/usr/bin/aarch64-linux-gnu-gcc', version: '12.2.0', identity: 'aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0', machine: 'aarch64-linux-gnu' };
  const tuple = { ...getTuple('aarch64-kiln-linux-musl'), libcInclude: '/c/usr/include/aarch64-linux-musl', libcLib: '/c/usr/lib/aarch64-linux-musl' };
  const files = generateWrappers({ tuple, compiler, sysroot: '/s', specsFile: '/x/gcc.specs', noteObject: '/x/n.o', tools: { ar: '/usr/bin/aarch64-linux-gnu-ar' } });
  const gcc = files.find((f) => f.name === 'gcc')!.content;
  assert.match(gcc, /-dumpmachine\) printf '%s\\n' 'aarch64-kiln-linux-musl'/);
  assert.match(gcc, /exec '\/usr\/bin\/aarch64-linux-gnu-gcc' -specs '\/x\/gcc.specs' "\$@"/);
  assert.match(gcc, /'\/c\/usr\/lib\/aarch64-linux-musl'\/\*/);
  assert.match(files.find((f) => f.name === 'ar')!.content, /exec '\/usr\/bin\/aarch64-linux-gnu-ar' "\$@"/);
  assert.match(files.find((f) => f.name === 'g++')!.content, /no C\+\+ tuple for aarch64 yet/);
  assert.ok(!files.some((f) => f.name === 'clang'));
});

test('without the cross compiler, the aarch64 tuple is left out with the Debian packages named; the others install', async () => {
  const { symlink, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { tempDir, testContext } = await import('../helpers.js');
  const { installToolchain } = await import('../../src/toolchain/install.js');
  const bin = await tempDir('kiln-nocross-');
  // A PATH with the host gcc and binutils but no aarch64-linux-gnu-* tools.
  // gcc finds cc1 and as relative to the path it was run by: a script runs it by its real path.
  await writeFile(join(bin, 'gcc'), '#!/bin/sh\nexec /usr/bin/gcc "$@"\n', { mode: 0o755 });
  for (const tool of ['as', 'ar', 'ranlib', 'nm', 'ld', 'strip', 'objcopy', 'objdump', 'readelf']) await symlink(`/usr/bin/${tool}`, join(bin, tool));
  const { ctx } = testContext(await tempDir('kiln-nocross-cache-'));
  const noCross = { ...ctx, env: { ...process.env, PATH: bin } };
  await assert.rejects(installToolchain(noCross, { tuples: ['aarch64-kiln-linux-musl'] }), (error: Error & { code?: string; hint?: string; details?: string[] }) => {
    return (
      error.code === 'KILN_COMPILER_MISSING' &&
      error.hint === 'apt-get install gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu' &&
      /aarch64-linux-gnu-gcc is not installed/.test(error.details?.[0] ?? '')
    );
  });
  const all = await installToolchain(noCross, { prefix: join(bin, 'prefix'), tuples: ['x86_64-kiln-linux-musl', 'aarch64-kiln-linux-musl'] });
  assert.deepEqual(all.tuples.map((t) => t.tuple), ['x86_64-kiln-linux-musl']);
  assert.ok(all.skipped.some((line) => line.startsWith('aarch64-kiln-linux-musl:') && line.includes('apt-get install gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu')), all.skipped.join('\n'));
});

test('an arm64 kernel apt does not list is explained: the host needs arm64 in dpkg architectures', async () => {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { tempDir, testContext } = await import('../helpers.js');
  const { obtainKernel } = await import('../../src/components/kernel.js');
  const dir = await tempDir('kiln-nolists-');
  await mkdir(join(dir, 'lists', 'partial'), { recursive: true });
  // apt with empty package lists: what a host without `dpkg --add-architecture arm64` answers for arm64.
  await writeFile(join(dir, 'apt.conf'), `Dir::State::Lists "${join(dir, 'lists')}";\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n`);
  const { ctx } = testContext(join(dir, 'cache'));
  const noLists = { ...ctx, env: { ...process.env, APT_CONFIG: join(dir, 'apt.conf') } };
  await assert.rejects(obtainKernel(noLists, { arch: 'arm64' }), (error: Error & { code?: string; hint?: string }) => {
    return error.code === 'KILN_KERNEL_NOT_FOUND' && /linux-image-cloud-arm64:arm64/.test(error.message) && /dpkg --add-architecture arm64 && apt-get update/.test(error.hint ?? '');
  });
});
