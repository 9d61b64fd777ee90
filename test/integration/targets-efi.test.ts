import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { exportDisk } from '../../src/export/disk.js';
import { loadImage } from '../../src/image/manifest.js';
import { runVm } from '../../src/launch/vm.js';
import { OVMF, copyOvmfVars, ovmfProblems } from '../../src/targets/efi/firmware.js';
import { uefiMachineOptions } from '../../src/targets/efi/machine.js';
import { readPeLayout } from '../../src/targets/efi/pe.js';
import { toArgv } from '../../src/targets/qemu/options.js';
import { diskTarget, efiTarget } from '../../src/targets/registry.js';
import { run } from '../../src/util/exec.js';
import { sha256File } from '../../src/util/fs.js';
import { buildC, launchCaptured, tempDir, testContext } from '../helpers.js';

/**
 * efi and disk: a Unified Kernel Image from Debian's systemd-boot stub, booted by Debian's
 * OVMF under QEMU/TCG, with the app's exit status coming back; and a GPT disk with the UKI on
 * its EFI system partition, booted by the same firmware with nothing but the disk.
 */
const { ctx } = testContext();
let work: string;
let hello: string;

before(async () => {
  work = await tempDir();
  hello = await buildC(ctx, 'examples/hello/hello.c', work, 'hello');
});

test('an efi image is one UKI with the stub, kernel, initrd, cmdline and os-release sections', async (t) => {
  if ((await ovmfProblems()).length > 0) assert.fail('OVMF is not installed' + ' — scripts/setup.sh installs it');
  const image = await loadImage((await bake(ctx, { appPath: hello, target: efiTarget }, join(work, 'hello.efi'))).dir);
  const uki = await readFile(join(image.dir, 'kiln.efi'));
  const names = readPeLayout(uki).sections.map((section) => section.name);
  for (const name of ['.text', '.osrel', '.cmdline', '.linux', '.initrd']) assert.ok(names.includes(name), names.join(','));
  // Sections must not overlap: each starts at or after the end of the one before.
  const sorted = readPeLayout(uki).sections.sort((a, b) => a.virtualAddress - b.virtualAddress);
  for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]!.virtualAddress >= sorted[i - 1]!.virtualAddress + sorted[i - 1]!.virtualSize);
});

test('kiln launch boots the efi image under OVMF (TCG) and exit status 4 comes back', async (t) => {
  if ((await ovmfProblems()).length > 0) assert.fail('OVMF is not installed' + ' — scripts/setup.sh installs it');
  const image = (await bake(ctx, { appPath: hello, target: efiTarget }, join(work, 'hello.efi'))).dir;
  const result = await launchCaptured(ctx, { imageDir: image, args: ['--exit', '4'], network: 'none', firmware: 'uefi' });
  assert.match(result.output, /hello from kiln/);
  assert.deepEqual(result.report, { kind: 'exited', code: 4 });
  assert.equal(result.exitCode, 4);
  t.diagnostic(`efi hello under OVMF+TCG: first output ${result.timings.firstOutputMs} ms, exit ${result.timings.exitMs} ms`);
  await assert.rejects(launchCaptured(ctx, { imageDir: image, network: 'none', firmware: 'bios' }), { code: 'KILN_USAGE' });
});

test('a disk image boots from its ESP alone under OVMF, gets DHCP, and converts to qcow2/vmdk/vhd', async (t) => {
  if ((await ovmfProblems()).length > 0) assert.fail('OVMF is not installed' + ' — scripts/setup.sh installs it');
  const image = await loadImage((await bake(ctx, { appPath: hello, target: diskTarget }, join(work, 'hello.disk'))).dir);
  const disk = join(image.dir, 'disk.raw');
  const listed = image.manifest.artifacts?.map((artifact) => artifact.file).sort();
  assert.deepEqual(listed, ['disk.raw', 'kiln.efi']);
  assert.equal(image.manifest.artifacts!.find((artifact) => artifact.file === 'disk.raw')!.sha256, await sha256File(disk));
  const table = (await run('sfdisk', ['--dump', disk])).stdout;
  assert.match(table, /label: gpt/);
  assert.match(table, /type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B/);

  // Boot with only the firmware and the disk: the UKI on it carries the standalone config
  // (status lines on the console, DHCP on eth0, power off at the end).
  const varsPath = join(work, 'vars.fd');
  await copyOvmfVars(varsPath);
  const consoleLog = join(work, 'disk-console.log');
  await writeFile(consoleLog, '');
  const request = {
    kernelPath: '-', initrdPath: '-', cmdline: '-', memoryMiB: image.manifest.memory.defaultMiB, cpus: 1, accel: 'tcg' as const,
    network: { kind: 'user' as const, forwards: [] }, consoleLogPath: consoleLog, statusPath: join(work, 'firmware-serial1.log'), qmpSocketPath: join(work, 'qmp.sock'),
  };
  const argv = toArgv(uefiMachineOptions(request, { codePath: OVMF.code, varsPath, diskPath: disk }));
  assert.ok(!argv.includes('-kernel'));
  const result = await runVm(ctx, { qemu: 'qemu-system-x86_64', argv, accel: request.accel, statusPath: consoleLog, qmpSocketPath: request.qmpSocketPath, timeoutSeconds: 120, stopTimeoutSeconds: 5 });
  const console = await readFile(consoleLog, 'utf8');
  assert.match(console, /hello from kiln/);
  assert.deepEqual(result.report, { kind: 'exited', code: 0 }, console.slice(-2000));
  t.diagnostic(`disk boot under OVMF+TCG: exit ${result.timings.exitMs} ms`);

  for (const [format, magic] of [['qcow2', 'QFI\xfb'], ['vmdk', 'KDMV'], ['vhd', '']] as const) {
    const out = join(work, `hello.${format}`);
    await exportDisk(image, format, out);
    // A fixed VHD is the raw disk plus a 512-byte footer, so qemu-img must be told its format.
    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', ...(format === 'vhd' ? ['-f', 'vpc'] : []), out])).stdout) as { format: string; 'virtual-size': number };
    assert.equal(info.format, format === 'vhd' ? 'vpc' : format);
    assert.ok(info['virtual-size'] >= (await readFile(disk)).length);
    const bytes = await readFile(out);
    if (magic) assert.equal(bytes.subarray(0, 4).toString('latin1'), magic);
    else assert.equal(bytes.subarray(bytes.length - 512, bytes.length - 504).toString('latin1'), 'conectix');
  }
});
