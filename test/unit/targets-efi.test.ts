import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { placeSections, readPeLayout } from '../../src/targets/efi/pe.js';
import { uefiMachineOptions } from '../../src/targets/efi/machine.js';
import { EFI_STUB } from '../../src/targets/efi/uki.js';
import { gptScript, stableGuid, espSizeBytes, ESP_TYPE } from '../../src/targets/disk/gpt.js';
import { qemuImgConvertArgs } from '../../src/export/disk.js';
import { toArgv } from '../../src/targets/qemu/options.js';
import type { MachineRequest } from '../../src/targets/types.js';

const request: MachineRequest = {
  kernelPath: '/img/kernel', initrdPath: '/run/initrd.cpio', cmdline: 'console=ttyS0', memoryMiB: 128, cpus: 1, accel: 'tcg',
  network: { kind: 'none' }, statusPath: '/run/status', qmpSocketPath: '/run/qmp.sock',
};

test('UEFI argv: OVMF in flash, the ESP as a read-only virtual FAT disk, no direct kernel boot', () => {
  const argv = toArgv(uefiMachineOptions(request, { codePath: '/fw/CODE.fd', varsPath: '/run/VARS.fd', espDir: '/run/esp' }));
  for (const flag of ['-kernel', '-initrd', '-append']) assert.ok(!argv.includes(flag), flag);
  const at = argv.indexOf('-smp') + 2;
  assert.deepEqual(argv.slice(at, at + 8), [
    '-drive', 'if=pflash,format=raw,unit=0,file=/fw/CODE.fd,readonly=on',
    '-drive', 'if=pflash,format=raw,unit=1,file=/run/VARS.fd,readonly=off',
    '-drive', 'if=none,id=boot,file=fat:/run/esp,format=raw,readonly=on',
    '-device', 'virtio-blk-pci,drive=boot,bootindex=0',
  ]);
  const disk = toArgv(uefiMachineOptions(request, { codePath: '/fw/CODE.fd', varsPath: '/run/VARS.fd', diskPath: '/img/disk.raw' }));
  assert.ok(disk.includes('if=none,id=boot,file=/img/disk.raw,format=raw,readonly=on'));
});

test('added UKI sections go after the stub, page-aligned, in order and without overlap', () => {
  const layout = { imageBase: 0n, sectionAlignment: 0x200, sections: [{ name: '.text', virtualAddress: 0x4000, virtualSize: 0xbff0 }, { name: '.sdmagic', virtualAddress: 0x19100, virtualSize: 0x34 }] };
  assert.deepEqual(placeSections(layout, [{ name: '.osrel', size: 10 }, { name: '.linux', size: 0x1001 }, { name: '.initrd', size: 5 }]), [
    { name: '.osrel', vma: 0x1a000n },
    { name: '.linux', vma: 0x1b000n },
    { name: '.initrd', vma: 0x1d000n },
  ]);
});

test("Debian's systemd stub is read as PE32+ with its sections", async (t) => {
  const stub = await readFile(EFI_STUB).catch(() => undefined);
  if (!stub) assert.fail('systemd-boot-efi is not installed' + ' — scripts/setup.sh installs it');
  const layout = readPeLayout(stub);
  assert.ok(layout.sections.some((section) => section.name === '.text'));
  assert.throws(() => readPeLayout(Buffer.from('not a PE file at all, just text padding it out to sixty-four bytes')), /not a PE32\+/);
});

test('the GPT script has fixed, content-derived ids and one ESP at 1 MiB', () => {
  const script = gptScript(131072, 'seed');
  assert.equal(script, gptScript(131072, 'seed'));
  assert.match(script, /^label: gpt$/m);
  assert.match(script, new RegExp(`^start=2048, size=131072, type=${ESP_TYPE}, uuid=${stableGuid('seed/esp')}, name="EFI system partition"$`, 'm'));
  assert.match(stableGuid('x'), /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
  assert.equal(espSizeBytes(15 * 1024 * 1024), 64 * 1024 * 1024);
  assert.equal(espSizeBytes(100 * 1024 * 1024), 108 * 1024 * 1024);
});

test('disk conversions use the formats cloud importers take', () => {
  assert.deepEqual(qemuImgConvertArgs('vmdk', 'a', 'b'), ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', 'a', 'b']);
  assert.deepEqual(qemuImgConvertArgs('vhd', 'a', 'b'), ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', 'a', 'b']);
});

test('a missing EFI stub is named with the Debian package that ships it', async () => {
  const { buildUki } = await import('../../src/targets/efi/uki.js');
  await assert.rejects(
    buildUki({ stubPath: '/nonexistent/linuxx64.efi.stub', kernelPath: '/k', initrdPath: '/i', cmdline: '', osRelease: '', outPath: '/tmp/never.efi' }),
    (error: Error & { code?: string; hint?: string }) => error.code === 'KILN_TOOL_MISSING' && /systemd-boot-efi/.test(error.hint ?? ''),
  );
});
