import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toArgv } from '../../src/targets/qemu/options.js';
import { virtMachineOptions } from '../../src/targets/virt/machine.js';
import { getTarget, listTargets, qemuMachineOptions, qemuTarget, targetForArch, virtTarget } from '../../src/targets/registry.js';
import { ARCHS, archForElfMachine, getArch, kvmPossibleFor } from '../../src/arch.js';
import { appArch, assertKernelArch } from '../../src/bake/arch.js';
import { runtimeConfRecords } from '../../src/init/contract.js';
import type { ElfInfo } from '../../src/rootfs/elf.js';
import type { MachineRequest } from '../../src/targets/types.js';

const request: MachineRequest = {
  kernelPath: '/img/kernel',
  initrdPath: '/run/initrd.cpio',
  cmdline: virtTarget.cmdline.join(' '),
  memoryMiB: 128,
  cpus: 1,
  accel: 'tcg',
  network: { kind: 'user', forwards: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 }] },
  drives: [{ path: '/run/vol0.img', readOnly: true, serial: 'kiln-vol0' }],
  statusPath: '/run/status',
  qmpSocketPath: '/run/qmp.sock',
};

test('aarch64 virt machine argv is exactly the golden one', () => {
  assert.deepEqual(toArgv(virtMachineOptions(request)), [
    '-nodefaults', '-no-user-config', '-no-reboot',
    '-display', 'none',
    '-machine', 'virt',
    '-accel', 'tcg',
    '-cpu', 'cortex-a57',
    '-m', '128M',
    '-smp', '1',
    '-kernel', '/img/kernel',
    '-initrd', '/run/initrd.cpio',
    '-append', 'console=ttyAMA0 rdinit=/kiln/init panic=-1 quiet cma=0',
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-chardev', 'file,id=status,path=/run/status',
    '-device', 'pci-serial,chardev=status',
    '-device', 'virtio-rng-pci',
    '-qmp', 'unix:/run/qmp.sock,server=on,wait=off',
    '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80',
    '-device', 'virtio-net-pci,netdev=net0',
    '-drive', 'if=none,id=vol0,file=/run/vol0.img,format=raw,readonly=on',
    '-device', 'virtio-blk-pci,drive=vol0,serial=kiln-vol0',
  ]);
});

test('the registry picks virt options for an aarch64 qemu image, the host CPU under KVM, and refuses UEFI', () => {
  assert.deepEqual(toArgv(qemuMachineOptions(virtTarget, request)), toArgv(virtMachineOptions(request)));
  const kvm = toArgv(virtMachineOptions({ ...request, accel: 'kvm' }));
  assert.deepEqual(kvm.slice(kvm.indexOf('-cpu'), kvm.indexOf('-cpu') + 2), ['-cpu', 'host']);
  assert.throws(() => qemuMachineOptions(virtTarget, { ...request, uefi: { codePath: '/c', varsPath: '/v', espDir: '/e' } as never }), { code: 'KILN_USAGE' });
});

test('the aarch64 shim reports on the PCI UART (ttyS0), powers off (no isa-debug-exit), and watches the PL061 power button', () => {
  const plumbing = { statusDevice: virtTarget.statusDevice, exit: virtTarget.exit, powerGpio: virtTarget.powerGpio! };
  const records = runtimeConfRecords({ path: '/app/x', args: [], env: {} }, { version: 1 }, plumbing);
  assert.deepEqual(records.slice(-3), [
    ['status', '/dev/ttyS0'],
    ['exit', 'poweroff'],
    ['power-gpio', '/dev/gpiochip0:3'],
  ]);
  assert.equal(qemuTarget.powerGpio, undefined, 'x86 targets keep the ACPI button and send no power-gpio record');
  assert.ok(!toArgv(virtMachineOptions(request)).some((arg) => arg.includes('isa-debug-exit')));
});

test('targets have an architecture; aarch64 has qemu only, and every miss lists what exists', () => {
  assert.equal(getTarget('qemu'), qemuTarget);
  assert.equal(getTarget('qemu', 'x86_64'), qemuTarget);
  assert.equal(getTarget('qemu', 'aarch64'), virtTarget);
  assert.equal(getTarget('qemu', 'arm64'), virtTarget, "Debian's name is accepted too");
  assert.equal(virtTarget.arch, 'aarch64');
  assert.ok(listTargets().every((target) => target.arch === 'x86_64'));
  assert.deepEqual(listTargets('aarch64'), [virtTarget]);
  assert.equal(targetForArch(qemuTarget, 'aarch64'), virtTarget);
  assert.equal(targetForArch(virtTarget, 'aarch64'), virtTarget);
  assert.throws(() => getTarget('microvm', 'aarch64'), (error: Error & { code?: string; hint?: string }) => {
    return error.code === 'KILN_TARGET_UNKNOWN' && /does not exist for aarch64/.test(error.message) && error.hint === 'known targets for aarch64: qemu';
  });
  assert.throws(() => getTarget('qemu', 'sparc64'), (error: Error & { code?: string; hint?: string }) => {
    return error.code === 'KILN_ARCH_UNKNOWN' && error.hint === 'known architectures: x86_64, aarch64';
  });
});

test('architecture facts: ELF machine, Debian name, QEMU program, KVM only for the host architecture', () => {
  assert.equal(archForElfMachine(183)?.name, 'aarch64');
  assert.equal(archForElfMachine(62)?.name, 'x86_64');
  assert.equal(archForElfMachine(243), undefined);
  assert.equal(getArch('arm64').name, 'aarch64');
  assert.equal(ARCHS.aarch64.qemu, 'qemu-system-aarch64');
  assert.equal(ARCHS.aarch64.qemuPackage, 'qemu-system-arm');
  assert.equal(kvmPossibleFor('aarch64', 'x64'), false);
  assert.equal(kvmPossibleFor('aarch64', 'arm64'), true);
  assert.equal(kvmPossibleFor('x86_64', 'x64'), true);
});

function elf(machine: number, elfClass: 32 | 64 = 64): ElfInfo {
  return { machine, class: elfClass, machineName: machine === 183 ? 'aarch64' : machine === 243 ? 'riscv' : 'x86_64' } as ElfInfo;
}

test("the app's ELF machine decides the image's architecture; --arch only checks it", () => {
  assert.equal(appArch(elf(183), 'app').name, 'aarch64');
  assert.equal(appArch(elf(62), 'app').name, 'x86_64');
  assert.equal(appArch(elf(183), 'app', 'aarch64').name, 'aarch64');
  assert.throws(() => appArch(elf(183), 'app', 'x86_64'), (error: Error & { code?: string }) => error.code === 'KILN_APP_WRONG_ARCH' && /built for aarch64, not x86_64/.test(error.message));
  assert.throws(() => appArch(elf(243), 'app'), (error: Error & { code?: string; hint?: string }) => {
    return error.code === 'KILN_APP_WRONG_ARCH' && /x86_64-kiln-linux-musl-gcc or aarch64-kiln-linux-musl-gcc/.test(error.hint ?? '');
  });
  assert.throws(() => appArch(elf(62, 32), 'app'), { code: 'KILN_APP_WRONG_ARCH' });
  assert.throws(() => appArch(elf(62), 'app', 'mips'), { code: 'KILN_ARCH_UNKNOWN' });
});

test('a kernel brought with --kernel must match the image architecture', () => {
  assert.doesNotThrow(() => assertKernelArch({ format: 'arm64-image', kernelPath: '/k' }, ARCHS.aarch64));
  assert.doesNotThrow(() => assertKernelArch({ format: 'bzImage', kernelPath: '/k' }, ARCHS.x86_64));
  assert.throws(() => assertKernelArch({ format: 'bzImage', kernelPath: '/k' }, ARCHS.aarch64), { code: 'KILN_KERNEL_INVALID' });
  assert.throws(() => assertKernelArch({ format: 'arm64-image', kernelPath: '/k' }, ARCHS.x86_64), { code: 'KILN_KERNEL_INVALID' });
});

test('accel auto is TCG for an aarch64 image on an x86_64 host, and --accel kvm is refused with the reason', async () => {
  const { resolveAccel } = await import('../../src/launch/accel.js');
  const { testContext } = await import('../helpers.js');
  const { ctx } = testContext('/nonexistent-cache');
  const image = { manifest: { arch: 'aarch64', target: 'qemu' } } as Parameters<typeof resolveAccel>[2];
  if (process.arch !== 'x64') return; // on an arm64 host KVM is possible and this question is moot
  const auto = await resolveAccel(ctx, 'auto', image);
  assert.equal(auto.accel, 'tcg');
  assert.match(auto.reason, /aarch64 image and the host is x64: KVM only runs guests of the host's own architecture/);
  await assert.rejects(resolveAccel(ctx, 'kvm', image), { code: 'KILN_ACCEL_UNAVAILABLE' });
});
