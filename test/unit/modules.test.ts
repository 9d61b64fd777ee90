import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { obtainKernel, loadModuleIndex } from '../../src/components/index.js';
import { tempDir, testContext } from '../helpers.js';
import { moduleNameFromPath, normaliseModuleName, parseModinfo, readModinfo } from '../../src/components/modinfo.js';
import { buildModuleIndex, parseModuleIndex, serializeModuleIndex, type ModuleIndex, type ModuleInfo } from '../../src/components/modules.js';
import { COMPONENT_SETS, resolveModuleClosure, type ModuleToLoad } from '../../src/components/sets.js';
import { isKilnError } from '../../src/errors.js';
import { run } from '../../src/util/exec.js';

/** A minimal ELF64 relocatable object with a .modinfo section, like a .ko file. */
function fakeKo(modinfo: string[]): Buffer {
  const info = Buffer.from(modinfo.map((entry) => `${entry}\0`).join(''), 'utf8');
  const strtab = Buffer.from('\0.modinfo\0.shstrtab\0', 'latin1');
  const infoOffset = 64;
  const strOffset = infoOffset + info.length;
  const shoff = Math.ceil((strOffset + strtab.length) / 8) * 8;
  const elf = Buffer.alloc(shoff + 3 * 64);
  elf.write('\x7fELF', 0, 'latin1');
  elf[4] = 2; // 64-bit
  elf[5] = 1; // little-endian
  elf[6] = 1;
  elf.writeUInt16LE(1, 16); // ET_REL
  elf.writeUInt16LE(62, 18); // x86_64
  elf.writeUInt32LE(1, 20);
  elf.writeBigUInt64LE(BigInt(shoff), 0x28);
  elf.writeUInt16LE(64, 0x34);
  elf.writeUInt16LE(64, 0x3a);
  elf.writeUInt16LE(3, 0x3c);
  elf.writeUInt16LE(2, 0x3e);
  info.copy(elf, infoOffset);
  strtab.copy(elf, strOffset);
  const section = (index: number, name: number, type: number, offset: number, size: number) => {
    const at = shoff + index * 64;
    elf.writeUInt32LE(name, at);
    elf.writeUInt32LE(type, at + 4);
    elf.writeBigUInt64LE(BigInt(offset), at + 0x18);
    elf.writeBigUInt64LE(BigInt(size), at + 0x20);
  };
  section(1, 1, 1, infoOffset, info.length); // .modinfo, PROGBITS
  section(2, 10, 3, strOffset, strtab.length); // .shstrtab, STRTAB
  return elf;
}

function moduleInfo(name: string, depends: string[] = [], builtin = false): ModuleInfo {
  return { name, path: builtin ? `kernel/builtin/${name}.ko` : `kernel/test/${name}.ko`, depends, builtin, aliases: [], softdeps: { pre: [], post: [] } };
}

function fakeIndex(modules: ModuleInfo[]): ModuleIndex {
  return { release: '6.1.0-test', modules: new Map(modules.map((module) => [module.name, module])) };
}

/** Every module comes after all of its (loadable) dependencies. */
function assertTopological(index: ModuleIndex, order: ModuleToLoad[]): void {
  const position = new Map(order.map((module, i) => [module.name, i]));
  for (const module of order) {
    for (const dep of index.modules.get(module.name)!.depends) {
      if (index.modules.get(dep)?.builtin) continue;
      assert.ok(position.get(dep)! < position.get(module.name)!, `${dep} must load before ${module.name}`);
    }
  }
}

test('names are normalised the way the kernel does', () => {
  assert.equal(normaliseModuleName('virtio-rng'), 'virtio_rng');
  assert.equal(moduleNameFromPath('kernel/drivers/char/hw_random/virtio-rng.ko'), 'virtio_rng');
  assert.equal(moduleNameFromPath('kernel/net/xen-netfront.ko.xz'), 'xen_netfront');
  assert.equal(moduleNameFromPath('kernel/fs/ext4/ext4.ko.zst'), 'ext4');
});

test('parseModinfo reads depends, aliases and softdeps', () => {
  const fields = parseModinfo(
    Buffer.from('alias=virtio:d00000001v*\0depends=virtio_ring,virtio,net-failover\0\0\0name=virtio_net\0softdep=pre: crc32c post: foo-bar\0vermagic=6.1.0 SMP \0', 'utf8'),
  );
  assert.equal(fields.name, 'virtio_net');
  assert.deepEqual(fields.depends, ['virtio_ring', 'virtio', 'net_failover']);
  assert.deepEqual(fields.aliases, ['virtio:d00000001v*']);
  assert.deepEqual(fields.softdeps, { pre: ['crc32c'], post: ['foo_bar'] });
  assert.equal(fields.vermagic, '6.1.0 SMP');
  assert.deepEqual(parseModinfo(Buffer.from('depends=\0', 'utf8')).depends, []);
});

test('readModinfo reads .modinfo of an ELF relocatable, and refuses a non-ELF module', async (t) => {
  const dir = await tempDir('kiln-modinfo-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'demo.ko'), fakeKo(['name=demo', 'depends=virtio']));
  await writeFile(join(dir, 'broken.ko'), 'not an elf at all');
  assert.deepEqual((await readModinfo(join(dir, 'demo.ko')))?.depends, ['virtio']);
  await assert.rejects(readModinfo(join(dir, 'broken.ko')), (error) => isKilnError(error, 'KILN_KERNEL_INVALID') && /broken\.ko/.test(error.message));
});

test('buildModuleIndex reads .ko and .ko.gz files and modules.builtin, and round-trips through JSON', async (t) => {
  const dir = await tempDir('kiln-modules-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'kernel/drivers/net'), { recursive: true });
  await mkdir(join(dir, 'kernel/drivers/char'), { recursive: true });
  await writeFile(join(dir, 'kernel/drivers/net/virtio_net.ko'), fakeKo(['name=virtio_net', 'depends=virtio,net_failover']));
  await writeFile(join(dir, 'kernel/drivers/net/net_failover.ko.gz'), gzipSync(fakeKo(['depends=failover', 'alias=netfo'])));
  await writeFile(join(dir, 'kernel/drivers/char/virtio-rng.ko'), fakeKo(['name=virtio_rng', 'depends=virtio']));
  await writeFile(join(dir, 'modules.builtin'), 'kernel/drivers/virtio/virtio.ko\nkernel/net/core/failover.ko\n');
  // Kernels built with CONFIG_MODULE_COMPRESS_XZ ship .ko.xz; xz-utils reads them. (xz FILE compresses in place.)
  await writeFile(join(dir, 'kernel/drivers/char/xz-demo.ko'), fakeKo(['depends=virtio_rng']));
  const hasXz = (await run('xz', ['--', join(dir, 'kernel/drivers/char/xz-demo.ko')], { check: false }).catch(() => undefined))?.code === 0;
  if (!hasXz) await rm(join(dir, 'kernel/drivers/char/xz-demo.ko'));
  const index = await buildModuleIndex(dir);
  const expected = ['failover', 'net_failover', 'virtio', 'virtio_net', 'virtio_rng', ...(hasXz ? ['xz_demo'] : [])];
  assert.deepEqual([...index.modules.keys()].sort(), expected);
  if (hasXz) assert.deepEqual(index.modules.get('xz_demo')?.depends, ['virtio_rng']);
  assert.deepEqual(index.modules.get('net_failover'), {
    name: 'net_failover',
    path: 'kernel/drivers/net/net_failover.ko.gz',
    depends: ['failover'],
    builtin: false,
    aliases: ['netfo'],
    softdeps: { pre: [], post: [] },
  });
  assert.equal(index.modules.get('virtio')?.builtin, true);
  assert.deepEqual(
    resolveModuleClosure(index, ['virtio-net']).map((m) => m.path),
    ['kernel/drivers/net/net_failover.ko.gz', 'kernel/drivers/net/virtio_net.ko'],
  );
  const again = parseModuleIndex(serializeModuleIndex(index));
  assert.ok(again);
  assert.deepEqual(again.modules, index.modules);
  assert.equal(parseModuleIndex('{"format":0}'), undefined);
  assert.equal(parseModuleIndex('not json'), undefined);
});

test('closure of a diamond: dependencies first, ties broken by name', () => {
  const index = fakeIndex([moduleInfo('top', ['left', 'right']), moduleInfo('left', ['base']), moduleInfo('right', ['base']), moduleInfo('base'), moduleInfo('alone')]);
  const order = resolveModuleClosure(index, [], ['top', 'alone']);
  assert.deepEqual(order.map((m) => m.name), ['alone', 'base', 'left', 'right', 'top']);
  assertTopological(index, order);
  // Same answer whatever order things are asked in.
  assert.deepEqual(resolveModuleClosure(index, [], ['alone', 'top', 'left']), order);
});

test('built-in modules satisfy dependencies and are not loaded', () => {
  const index = fakeIndex([moduleInfo('a', ['b', 'c']), moduleInfo('b', [], true), moduleInfo('c')]);
  assert.deepEqual(resolveModuleClosure(index, [], ['a', 'b']).map((m) => m.name), ['c', 'a']);
});

test('dashes and underscores name the same module', () => {
  const index = fakeIndex([moduleInfo('virtio_rng', ['virtio-ring']), moduleInfo('virtio_ring')]);
  assert.deepEqual(resolveModuleClosure(index, [], ['virtio-rng']).map((m) => m.name), ['virtio_ring', 'virtio_rng']);
});

test('a dependency cycle is reported, not looped on', () => {
  const index = fakeIndex([moduleInfo('a', ['b']), moduleInfo('b', ['c']), moduleInfo('c', ['a']), moduleInfo('d')]);
  assert.throws(
    () => resolveModuleClosure(index, [], ['a', 'd']),
    (error) => isKilnError(error, 'KILN_MODULE_DEPENDENCY_CYCLE') && /a, b, c/.test(error.message),
  );
});

test('unknown sets list the known ones; missing modules say who needed them', () => {
  const index = fakeIndex([moduleInfo('virtio_net', ['virtio'])]);
  assert.throws(
    () => resolveModuleClosure(index, ['virtio-net', 'hw_virtio']),
    (error) => isKilnError(error, 'KILN_COMPONENT_SET_UNKNOWN') && /hw_virtio/.test(error.message) && /virtio-blk/.test(error.hint ?? ''),
  );
  assert.throws(
    () => resolveModuleClosure(index, ['virtio-net']),
    (error) => isKilnError(error, 'KILN_MODULE_NOT_FOUND') && /virtio\b/.test(error.message) && /needed by virtio_net/.test(error.details.join('\n')),
  );
});

// The real index of Debian's cloud kernel (downloaded once into the shared test cache).
test('real index: virtio-net on pc loads the modules DESIGN.md measured, in a valid order', async () => {
  const { ctx } = testContext();
  const index = await loadModuleIndex(ctx, await obtainKernel(ctx, {}));
  const order = resolveModuleClosure(index, ['virtio-pci', 'virtio-net']);
  assert.deepEqual(
    order.map((m) => m.name).sort(),
    ['failover', 'net_failover', 'virtio', 'virtio_net', 'virtio_pci', 'virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_ring'],
  );
  assertTopological(index, order);
  // The order DESIGN.md booted with is valid against this index too.
  const measured = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'failover', 'net_failover', 'virtio_net'];
  assertTopological(index, measured.map((name) => ({ name, path: index.modules.get(name)!.path })));

  // Every set resolves on the Debian kernel; built-in ext4 contributes nothing.
  for (const set of Object.keys(COMPONENT_SETS)) assertTopological(index, resolveModuleClosure(index, [set]));
  assert.deepEqual(resolveModuleClosure(index, ['fs-ext4']), []);
  assert.deepEqual(resolveModuleClosure(index, ['acpi-power']).map((m) => m.name), ['button']);
});
