import { test } from 'node:test';
import assert from 'node:assert/strict';
import { microvmMachineOptions, tscCmdline } from '../../src/targets/microvm/machine.js';
import { firecrackerConfig, FIRECRACKER_NET } from '../../src/targets/microvm/firecracker.js';
import { toArgv } from '../../src/targets/qemu/options.js';
import { canonicalJson } from '../../src/util/fs.js';
import type { MachineRequest } from '../../src/targets/types.js';

const request: MachineRequest = {
  kernelPath: '/img/kernel',
  initrdPath: '/run/initrd.cpio',
  cmdline: 'console=ttyS0 rdinit=/kiln/init panic=-1 quiet',
  memoryMiB: 128,
  cpus: 1,
  accel: 'tcg',
  hostTscKhz: 2095998,
  network: { kind: 'user', forwards: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 }] },
  drives: [{ path: '/v/data.img', readOnly: true, serial: 'kiln-vol0' }],
  statusPath: '/run/status',
  qmpSocketPath: '/run/qmp.sock',
};

test('microvm argv is exactly the golden one', () => {
  assert.deepEqual(toArgv(microvmMachineOptions(request)), [
    '-nodefaults', '-no-user-config', '-no-reboot',
    '-display', 'none',
    '-machine', 'microvm,acpi=on',
    '-accel', 'tcg',
    '-cpu', 'max',
    '-m', '128M',
    '-smp', '1',
    '-kernel', '/img/kernel',
    '-initrd', '/run/initrd.cpio',
    '-append', 'console=ttyS0 rdinit=/kiln/init panic=-1 quiet tsc_early_khz=2095998',
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-chardev', 'file,id=status,path=/run/status',
    '-device', 'isa-serial,chardev=status,iobase=0x2f8,irq=3',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-device', 'virtio-rng-device',
    '-qmp', 'unix:/run/qmp.sock,server=on,wait=off',
    '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80',
    '-device', 'virtio-net-device,netdev=net0',
    '-drive', 'if=none,id=vol0,file=/v/data.img,format=raw,readonly=on',
    '-device', 'virtio-blk-device,drive=vol0,serial=kiln-vol0',
  ]);
});

test('tsc_early_khz is added only under TCG and only when the host frequency is known', () => {
  assert.deepEqual(tscCmdline({ accel: 'kvm', hostTscKhz: 2095998 }), []);
  assert.deepEqual(tscCmdline({ accel: 'tcg' }), []);
  assert.deepEqual(tscCmdline({ accel: 'tcg', hostTscKhz: 1000 }), ['tsc_early_khz=1000']);
});

test('the Firecracker machine config is exactly the golden one', () => {
  const config = firecrackerConfig({
    kernelFile: 'kernel',
    initrdFile: 'firecracker-initrd.cpio',
    bootArgs: 'console=ttyS0 rdinit=/kiln/init panic=-1 quiet reboot=k',
    memoryMiB: 144,
    cpus: 2,
    taps: [{ hostDevName: FIRECRACKER_NET.tap, guestMac: FIRECRACKER_NET.guestMac }],
  });
  assert.equal(
    canonicalJson(config),
    canonicalJson({
      'boot-source': { kernel_image_path: 'kernel', initrd_path: 'firecracker-initrd.cpio', boot_args: 'console=ttyS0 rdinit=/kiln/init panic=-1 quiet reboot=k' },
      drives: [],
      'machine-config': { vcpu_count: 2, mem_size_mib: 144, smt: false },
      'network-interfaces': [{ iface_id: 'eth0', guest_mac: '06:00:ac:10:00:02', host_dev_name: 'kiln-tap0' }],
    }),
  );
});
