import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { loadImage } from '../../src/image/manifest.js';
import { runVm } from '../../src/launch/vm.js';
import { OVMF, copyOvmfVars, ovmfProblems } from '../../src/targets/efi/firmware.js';
import { uefiMachineOptions } from '../../src/targets/efi/machine.js';
import { toArgv, type QemuOption } from '../../src/targets/qemu/options.js';
import { diskTarget } from '../../src/targets/registry.js';
import { run } from '../../src/util/exec.js';
import { buildC, tempDir, testContext } from '../helpers.js';

/**
 * A disk image with a data partition, booted the way a cloud boots it: UEFI firmware and the
 * disk alone. The image's own UKI mounts the partition by its GPT name; the app counts its
 * boots there, so two boots of the same disk prove the partition is written and kept, and the
 * host then reads the count back from the partition with debugfs.
 */
const { ctx } = testContext();

/** Boots `disk` under OVMF, on virtio-blk (as QEMU and EC2's virtio machines) or on virtio-scsi (as GCE's SCSI disks). */
async function bootDisk(work: string, disk: string, memoryMiB: number, name: string, bus: 'virtio-blk' | 'virtio-scsi'): Promise<string> {
  const varsPath = join(work, `${name}-vars.fd`);
  await copyOvmfVars(varsPath);
  const consoleLog = join(work, `${name}-console.log`);
  await writeFile(consoleLog, '');
  const request = {
    kernelPath: '-', initrdPath: '-', cmdline: '-', memoryMiB, cpus: 1, accel: 'tcg' as const,
    network: { kind: 'user' as const, forwards: [] }, consoleLogPath: consoleLog, statusPath: join(work, `${name}-serial1.log`), qmpSocketPath: join(work, `${name}-qmp.sock`),
  };
  const options = uefiMachineOptions(request, { codePath: OVMF.code, varsPath, diskPath: disk, diskWritable: true }).flatMap((option): QemuOption[] =>
    bus === 'virtio-scsi' && option.kind === 'device' && option.driver === 'virtio-blk-pci'
      ? [{ kind: 'device', driver: 'virtio-scsi-pci', props: { id: 'scsi0' } }, { kind: 'device', driver: 'scsi-hd', props: { drive: 'boot', bus: 'scsi0.0', bootindex: 0 } }]
      : [option],
  );
  const argv = toArgv(options);
  assert.ok(argv.includes(`if=none,id=boot,file=${disk},format=raw,readonly=off`));
  assert.equal(argv.includes('virtio-scsi-pci,id=scsi0'), bus === 'virtio-scsi');
  const result = await runVm(ctx, { qemu: 'qemu-system-x86_64', argv, accel: request.accel, statusPath: consoleLog, qmpSocketPath: request.qmpSocketPath, timeoutSeconds: 120, stopTimeoutSeconds: 5 });
  const console = await readFile(consoleLog, 'utf8');
  assert.deepEqual(result.report, { kind: 'exited', code: 0 }, console.slice(-2000));
  return console;
}

test('a disk image with --data-partition mounts it by GPT name and keeps what the app wrote across boots', async (t) => {
  if ((await ovmfProblems()).length > 0) assert.fail('OVMF is not installed' + ' — scripts/setup.sh installs it');
  const work = await tempDir();
  const counter = await buildC(ctx, 'test/fixtures/data-counter.c', work, 'data-counter');
  const image = await loadImage((await bake(ctx, { appPath: counter, target: diskTarget, args: ['/srv/state'], dataPartition: { sizeMiB: 16, mount: '/srv/state' } }, join(work, 'counter.disk'))).dir);
  assert.deepEqual(image.manifest.dataPartition, { label: 'kiln-data', sizeMiB: 16, mount: '/srv/state' });
  const modules = image.manifest.modules.map((module) => module.name);
  for (const name of ['virtio_scsi', 'sd_mod', 'scsi_mod', 'ena', 'gve']) assert.ok(modules.includes(name), `${name} in ${modules.join(',')}`);

  const table = (await run('sfdisk', ['--json', join(image.dir, 'disk.raw')])).stdout;
  const partitions = (JSON.parse(table) as { partitiontable: { partitions: { start: number; size: number; name?: string }[] } }).partitiontable.partitions;
  assert.equal(partitions.length, 2);
  assert.equal(partitions[1]!.name, 'kiln-data');
  assert.equal(partitions[1]!.size, 16 * 2048);

  // Boot a copy, as a cloud boots an imported copy; the image's own disk.raw stays as baked.
  const disk = join(work, 'disk.raw');
  await copyFile(join(image.dir, 'disk.raw'), disk);
  const first = await bootDisk(work, disk, image.manifest.memory.defaultMiB, 'first', 'virtio-blk');
  assert.match(first, /mounted: \/dev\/vda2 on \/srv\/state type ext4/);
  assert.match(first, /boot 1, read back 1/);
  // The second boot finds the same partition by name on another disk driver: virtio-scsi.
  const second = await bootDisk(work, disk, image.manifest.memory.defaultMiB, 'second', 'virtio-scsi');
  assert.match(second, /mounted: \/dev\/sda2 on \/srv\/state type ext4/);
  assert.match(second, /boot 2, read back 2/);

  // The host reads what the guest wrote, straight from the partition's bytes.
  const partition = join(work, 'data.ext4');
  const source = await open(disk, 'r');
  try {
    const bytes = Buffer.alloc(partitions[1]!.size * 512);
    await source.read(bytes, 0, bytes.length, partitions[1]!.start * 512);
    await writeFile(partition, bytes);
  } finally {
    await source.close();
  }
  assert.equal((await run('debugfs', ['-R', 'cat /count', partition])).stdout.trim(), '2');
  assert.match((await run('e2label', [partition])).stdout, /kiln-data/);
  t.diagnostic('two OVMF+TCG boots of one disk (virtio-blk, then virtio-scsi): boot 1 then boot 2 read from its data partition');
});
