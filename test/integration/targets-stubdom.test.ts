import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { parseDataFileFlag, type DataFileRequest } from '../../src/bake/data.js';
import { loadImage } from '../../src/image/manifest.js';
import { qemuTarget, xenTarget } from '../../src/targets/registry.js';
import { run } from '../../src/util/exec.js';
import { launchCaptured, tempDir, testContext } from '../helpers.js';

/**
 * The seed's use case, a QEMU stub domain (examples/stubdom): Debian's qemu-system-x86_64,
 * unmodified, with the libraries kiln finds from its dynamic section and the firmware and
 * module files listed in examples/stubdom/qemu-files.txt, baked for Xen (PVH, Xen front-ends)
 * and for QEMU. In the QEMU image it starts a real pc machine inside the VM: SeaBIOS, the
 * multiboot ROM and the TCG module must all be found for the nested guest to print its line
 * and end with its own exit status.
 */
const QEMU = '/usr/bin/qemu-system-x86_64';
const { ctx } = testContext();

/** The SRC:/DEST lines of examples/stubdom/qemu-files.txt, the same list the example script uses. */
async function stubdomFiles(): Promise<DataFileRequest[]> {
  const text = await readFile('examples/stubdom/qemu-files.txt', 'utf8');
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map(parseDataFileFlag);
}

/** The nested guest's argv: a pc machine under TCG, nothing but the debug console and isa-debug-exit. */
const NESTED_ARGS = [
  '-M', 'pc', '-accel', 'tcg,tb-size=32', '-m', '16', '-nodefaults', '-display', 'none', '-no-reboot',
  '-kernel', '/srv/nested.elf', '-debugcon', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4',
];

test("Debian's qemu-system-x86_64 with its firmware bakes for xen and for qemu, and starts a machine inside the VM", async (t) => {
  if (!(await access(QEMU).then(() => true, () => false))) assert.fail('qemu-system-x86 is not installed' + ' — scripts/setup.sh installs it');
  const work = await tempDir();
  const nested = join(work, 'nested.elf');
  await run('gcc', ['-m32', '-c', 'examples/stubdom/nested.S', '-o', join(work, 'nested.o')]);
  await run('ld', ['-m', 'elf_i386', '-Ttext', '0x100000', '-e', '_start', '-o', nested, join(work, 'nested.o')]);
  const files = [...(await stubdomFiles()), { hostPath: nested, guestPath: '/srv/nested.elf' }];

  const xen = await loadImage((await bake(ctx, { appPath: QEMU, target: xenTarget, files }, join(work, 'qemu.xen'))).dir);
  assert.equal(xen.manifest.app.linkage, 'dynamic');
  assert.ok(xen.manifest.files.filter((file) => file.role === 'library').length > 20, 'its shared libraries are in the image');
  const data = xen.manifest.files.filter((file) => file.role === 'data').map((file) => file.path);
  for (const path of ['/usr/share/seabios/bios-256k.bin', '/usr/share/qemu/kvmvapic.bin', '/usr/share/qemu/keymaps/en-us', '/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so']) {
    assert.ok(data.includes(path), `${path} is in the xen image`);
  }
  assert.match(await readFile(join(xen.dir, 'xl.cfg'), 'utf8'), /^name = "kiln-qemu-system-x86_64"$/m);

  const image = await loadImage((await bake(ctx, { appPath: QEMU, target: qemuTarget, files }, join(work, 'qemu.img'))).dir);
  const version = await launchCaptured(ctx, { imageDir: image.dir, args: ['--version'], network: 'none' });
  assert.match(version.output, /QEMU emulator version \d+\.\d+/);
  assert.deepEqual(version.report, { kind: 'exited', code: 0 });

  // QEMU inside the VM needs room for its own guest and translation buffer on top of the image.
  const memoryMiB = Math.max(image.manifest.memory.defaultMiB, 384);
  const machine = await launchCaptured(ctx, { imageDir: image.dir, args: NESTED_ARGS, network: 'none', memoryMiB });
  assert.match(machine.output, /kiln nested guest ran/, machine.output.slice(-2000));
  assert.deepEqual(machine.report, { kind: 'exited', code: 85 }, machine.output.slice(-2000));
  // With the TCG module but without the firmware, the same binary cannot start the machine:
  // the firmware files above are what it used.
  const tcg = files.filter((file) => file.guestPath.endsWith('.so') || file.guestPath === '/srv/nested.elf');
  const bare = (await bake(ctx, { appPath: QEMU, target: qemuTarget, files: tcg }, join(work, 'bare.img'))).dir;
  const failed = await launchCaptured(ctx, { imageDir: bare, args: NESTED_ARGS, network: 'none', memoryMiB });
  assert.doesNotMatch(failed.output, /kiln nested guest ran/);
  assert.match(failed.output, /could not load PC BIOS 'bios-256k\.bin'/, failed.output.slice(-2000));
  assert.deepEqual(failed.report, { kind: 'exited', code: 1 }, failed.output.slice(-2000));
  t.diagnostic(`qemu --version in a VM: exit ${version.timings.exitMs} ms; nested pc machine: exit ${machine.timings.exitMs} ms; image initrd ${(image.manifest.initrd.size / 1048576).toFixed(1)} MiB at ${memoryMiB} MiB`);
});
