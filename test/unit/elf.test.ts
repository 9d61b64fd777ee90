import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isKilnError } from '../../src/errors.js';
import { EM_X86_64, isElf, parseElf, parseElfFile, readSection } from '../../src/rootfs/elf.js';
import { run } from '../../src/util/exec.js';
import { obtainKernel } from '../../src/components/index.js';
import { testContext } from '../helpers.js';

const LS = '/usr/bin/ls';
const NT_GNU_BUILD_ID = 3;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-elf-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function hasTool(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((p) => existsSync(join(p, name)));
}

/** readelf is the reference here only: kiln itself never runs it. */
async function readelfDynamic(path: string): Promise<{ needed: string[]; soname?: string; runpath: string[] }> {
  const { stdout } = await run('readelf', ['-d', '-W', path]);
  const needed = [...stdout.matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]!);
  const soname = /\(SONAME\)\s+Library soname: \[(.+)\]/.exec(stdout)?.[1];
  const runpath = /\(RUNPATH\)\s+Library runpath: \[(.+)\]/.exec(stdout)?.[1]?.split(':') ?? [];
  return { needed, runpath, ...(soname ? { soname } : {}) };
}

describe('parseElf on real binaries', () => {
  it('reads a dynamic PIE (/usr/bin/ls)', async () => {
    const buf = await readFile(LS);
    assert.ok(isElf(buf));
    const info = parseElf(buf, LS);
    assert.equal(info.class, 64);
    assert.equal(info.endian, 'le');
    assert.equal(info.machine, EM_X86_64);
    assert.equal(info.machineName, 'x86_64');
    assert.equal(info.type, 'dyn');
    assert.equal(info.interpreter, '/lib64/ld-linux-x86-64.so.2');
    assert.ok(info.needed.includes('libc.so.6'));
    assert.equal(info.isStatic, false);
    assert.equal(info.isPie, true);
    assert.equal(info.soname, undefined);
    assert.deepEqual(info.needed, (await readelfDynamic(LS)).needed);
    const buildId = info.notes.find((n) => n.name === 'GNU' && n.type === NT_GNU_BUILD_ID);
    assert.ok(buildId && buildId.desc.length >= 16, 'has a GNU build-id note');
    assert.deepEqual(readSection(buf, info, '.interp'), Buffer.from('/lib64/ld-linux-x86-64.so.2\0'));
    assert.equal(readSection(buf, info, '.no-such-section'), undefined);
    // Reading ranges from the file gives the same answer as reading the whole buffer.
    assert.deepEqual(parseElfFile(LS), info);
  });

  it('agrees with readelf on shared libraries (DT_NEEDED, DT_SONAME, DT_RUNPATH)', async (t) => {
    if (!hasTool('readelf')) assert.fail('readelf (binutils) is not installed' + ' — scripts/setup.sh installs it');
    const libdir = '/usr/lib/x86_64-linux-gnu';
    const libs = readdirSync(libdir).filter((n) => /\.so\.\d+$/.test(n)).sort().slice(0, 40);
    for (const name of libs) {
      const info = parseElfFile(join(libdir, name));
      const ref = await readelfDynamic(join(libdir, name));
      assert.deepEqual(info.needed, ref.needed, name);
      assert.equal(info.soname, ref.soname, name);
      assert.deepEqual(info.runpath, ref.runpath, name);
      assert.equal(info.isPie, false, `${name} is a library, not a PIE`);
    }
  });

  it('reads a static musl binary built with musl-gcc -static', async (t) => {
    if (!hasTool('musl-gcc')) assert.fail('musl-gcc (musl-tools) is not installed' + ' — scripts/setup.sh installs it');
    await writeFile(join(dir, 'hello.c'), '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n');
    await run('musl-gcc', ['-static', '-O2', '-o', join(dir, 'hello'), join(dir, 'hello.c')]);
    const info = parseElfFile(join(dir, 'hello'));
    assert.equal(info.type, 'exec');
    assert.equal(info.interpreter, undefined);
    assert.deepEqual(info.needed, []);
    assert.equal(info.isStatic, true);
    assert.equal(info.isPie, false);
  });

  it('reads the dynamic section without section headers (stripped to program headers only)', async () => {
    const buf = Buffer.from(await readFile(LS));
    buf.writeBigUInt64LE(0n, 40); // e_shoff
    buf.writeUInt16LE(0, 60); // e_shnum
    buf.writeUInt16LE(0, 62); // e_shstrndx
    const info = parseElf(buf, 'ls-without-sections');
    assert.deepEqual(info.sections, []);
    assert.deepEqual(info.needed, parseElf(await readFile(LS)).needed);
    assert.equal(info.interpreter, '/lib64/ld-linux-x86-64.so.2');
    assert.ok(info.notes.some((n) => n.type === NT_GNU_BUILD_ID), 'notes come from PT_NOTE');
  });
});

/**
 * A minimal ELF written by hand: one PT_LOAD mapping the whole file at 0x400000, PT_INTERP,
 * PT_DYNAMIC, no section headers. It covers the classes and byte orders this machine's
 * compilers cannot produce (big-endian, e.g. s390x).
 */
function synthElf(cls: 32 | 64, endian: 'le' | 'be', machine: number): Buffer {
  const w = cls === 64 ? 8 : 4;
  const be = endian === 'be';
  const [ehsize, phentsize, phnum] = [cls === 64 ? 64 : 52, cls === 64 ? 56 : 32, 3];
  const interp = Buffer.from('/lib/ld-test.so.1\0');
  const strings = Buffer.from('\0libfoo.so.1\0libbar.so.2\0libself.so\0$ORIGIN/lib:/opt/lib\0');
  const str = (s: string) => strings.indexOf(`\0${s}\0`) + 1;
  const base = 0x400000;
  const interpOff = ehsize + phnum * phentsize;
  const dynOff = Math.ceil((interpOff + interp.length) / 8) * 8;
  const dyn: [number, number][] = [[1, str('libfoo.so.1')], [1, str('libbar.so.2')], [14, str('libself.so')], [29, str('$ORIGIN/lib:/opt/lib')], [5, 0], [10, strings.length], [0, 0]];
  const strOff = dynOff + dyn.length * 2 * w;
  dyn[4]![1] = base + strOff;
  const buf = Buffer.alloc(strOff + strings.length);
  const u16 = (off: number, v: number) => (be ? buf.writeUInt16BE(v, off) : buf.writeUInt16LE(v, off));
  const u32 = (off: number, v: number) => (be ? buf.writeUInt32BE(v, off) : buf.writeUInt32LE(v, off));
  const word = (off: number, v: number) => (w === 4 ? u32(off, v) : be ? buf.writeBigUInt64BE(BigInt(v), off) : buf.writeBigUInt64LE(BigInt(v), off));
  buf.write('\x7fELF', 0, 'latin1');
  buf[4] = cls === 64 ? 2 : 1;
  buf[5] = be ? 2 : 1;
  buf[6] = 1;
  u16(16, 3); // ET_DYN
  u16(18, machine);
  u32(20, 1);
  word(24 + w, ehsize); // e_phoff
  u16(28 + 3 * w, ehsize);
  u16(30 + 3 * w, phentsize);
  u16(32 + 3 * w, phnum);
  const segments = [[1, 0, buf.length], [3, interpOff, interp.length], [2, dynOff, dyn.length * 2 * w]] as const;
  segments.forEach(([type, offset, size], i) => {
    const p = ehsize + i * phentsize;
    u32(p, type);
    if (cls === 64) [8, 16, 32, 40].forEach((o, k) => word(p + o, [offset, base + offset, size, size][k]!));
    else [4, 8, 16, 20].forEach((o, k) => u32(p + o, [offset, base + offset, size, size][k]!));
  });
  interp.copy(buf, interpOff);
  dyn.forEach(([tag, val], i) => {
    word(dynOff + i * 2 * w, tag);
    word(dynOff + i * 2 * w + w, val);
  });
  strings.copy(buf, strOff);
  return buf;
}

describe('parseElf on hand-made files', () => {
  for (const [cls, endian, machine, name] of [[64, 'be', 22, 's390'], [32, 'be', 20, 'ppc'], [64, 'le', 183, 'aarch64'], [32, 'le', 3, 'x86']] as const) {
    it(`reads ELF${cls} ${endian} (${name})`, () => {
      const info = parseElf(synthElf(cls, endian, machine));
      assert.equal(info.class, cls);
      assert.equal(info.endian, endian);
      assert.equal(info.machineName, name);
      assert.equal(info.type, 'dyn');
      assert.equal(info.interpreter, '/lib/ld-test.so.1');
      assert.deepEqual(info.needed, ['libfoo.so.1', 'libbar.so.2']);
      assert.equal(info.soname, 'libself.so');
      assert.deepEqual(info.runpath, ['$ORIGIN/lib', '/opt/lib']);
      assert.deepEqual(info.rpath, []);
      assert.equal(info.isPie, false, 'a DT_SONAME without DF_1_PIE is a library');
      assert.deepEqual(info.sections, []);
    });
  }

  it('reports a DT_STRTAB outside every segment as damage', () => {
    const buf = synthElf(64, 'le', 62);
    const dynOff = Number(buf.readBigUInt64LE(64 + 2 * 56 + 8)); // PT_DYNAMIC's p_offset
    const strtabEntry = dynOff + 4 * 16; // the fifth entry is DT_STRTAB
    assert.equal(buf.readBigUInt64LE(strtabEntry), 5n);
    buf.writeBigUInt64LE(0x9000000n, strtabEntry + 8);
    assert.throws(() => parseElf(buf, 'bad'), /DT_STRTAB address 0x9000000 is not inside any loadable segment/);
  });
});

describe('relocatable objects (kernel modules)', () => {
  it('reads .modinfo from a relocatable object like a .ko', async (t) => {
    if (!hasTool('gcc')) assert.fail('gcc is not installed' + ' — scripts/setup.sh installs it');
    // MODULE_LICENSE() and friends put "key=value\0" strings into .modinfo; this does the same.
    const source = [
      'static const char a[] __attribute__((section(".modinfo"), used, aligned(1))) = "license=GPL";',
      'static const char b[] __attribute__((section(".modinfo"), used, aligned(1))) = "depends=virtio,virtio_ring";',
      'int init_module(void) { return 0; }',
    ].join('\n');
    await writeFile(join(dir, 'fake_mod.c'), source);
    await run('gcc', ['-c', '-O2', '-o', join(dir, 'fake_mod.ko'), join(dir, 'fake_mod.c')]);
    const buf = await readFile(join(dir, 'fake_mod.ko'));
    const info = parseElf(buf);
    assert.equal(info.type, 'rel');
    assert.equal(info.isStatic, true);
    const modinfo = readSection(buf, info, '.modinfo')?.toString('latin1').split('\0').filter(Boolean);
    assert.deepEqual(modinfo?.sort(), ['depends=virtio,virtio_ring', 'license=GPL']);
  });

  it("reads .modinfo from a real module of Debian's cloud kernel", async () => {
    const { ctx } = testContext();
    const kernel = await obtainKernel(ctx, {});
    const ko = findKernelModule(kernel.modulesDir!);
    assert.ok(ko, 'the kernel package ships .ko files');
    const buf = await readFile(ko);
    const info = parseElf(buf, ko);
    assert.equal(info.type, 'rel');
    const modinfo = readSection(buf, info, '.modinfo')?.toString('latin1') ?? '';
    assert.match(modinfo, /(^|\0)depends=/);
  });
});

function findKernelModule(root: string): string | undefined {
  if (!existsSync(root)) return undefined;
  const stack = [root];
  while (stack.length > 0) {
    const current = stack.pop()!;
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else if (entry.isFile() && entry.name.endsWith('.ko')) return path;
    }
  }
  return undefined;
}

describe('bad input', () => {
  it('rejects a non-ELF file with KILN_APP_NOT_ELF and a hint', () => {
    for (const buf of [Buffer.from('#!/bin/sh\necho hi\n'), Buffer.alloc(0), Buffer.from('\x7fEL')]) {
      assert.equal(isElf(buf), false);
      assert.throws(
        () => parseElf(buf, '/tmp/script.sh'),
        (error: unknown) => isKilnError(error, 'KILN_APP_NOT_ELF') && /is not an ELF file/.test(error.message) && error.hint !== undefined,
      );
    }
  });

  it('rejects truncated files with a clear message', async () => {
    const full = await readFile(LS);
    for (const length of [10, 64, 1000, Math.floor(full.length / 2), full.length - 1]) {
      assert.throws(
        () => parseElf(full.subarray(0, length), 'ls.part'),
        (error: unknown) => isKilnError(error, 'KILN_APP_NOT_ELF') && /ls\.part is a damaged ELF file/.test(error.message),
        `truncated to ${length} bytes`,
      );
    }
    await writeFile(join(dir, 'half'), full.subarray(0, full.length / 2));
    assert.throws(() => parseElfFile(join(dir, 'half')), /truncated/);
  });

  it('rejects an unknown ELF class', async () => {
    const buf = Buffer.from(await readFile(LS));
    buf[4] = 7;
    assert.throws(() => parseElf(buf), /unknown ELF class 7/);
  });
});
