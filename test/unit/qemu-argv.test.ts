import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pcMachineOptions } from '../../src/targets/qemu/machine.js';
import { toArgv, escapeValue } from '../../src/targets/qemu/options.js';
import type { MachineRequest } from '../../src/targets/types.js';

const request: MachineRequest = {
  kernelPath: '/img/kernel',
  initrdPath: '/run/initrd.cpio',
  cmdline: 'console=ttyS0 rdinit=/kiln/init panic=-1 quiet',
  memoryMiB: 128,
  cpus: 2,
  accel: 'tcg',
  network: { kind: 'user', forwards: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 }] },
  statusPath: '/run/status',
  qmpSocketPath: '/run/qmp.sock',
};

test('pc machine argv is exactly the golden one', () => {
  assert.deepEqual(toArgv(pcMachineOptions(request)), [
    '-nodefaults', '-no-user-config', '-no-reboot',
    '-display', 'none',
    '-machine', 'pc',
    '-accel', 'tcg',
    '-cpu', 'max',
    '-m', '128M',
    '-smp', '2',
    '-kernel', '/img/kernel',
    '-initrd', '/run/initrd.cpio',
    '-append', 'console=ttyS0 rdinit=/kiln/init panic=-1 quiet',
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-chardev', 'file,id=status,path=/run/status',
    '-serial', 'chardev:status',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-device', 'virtio-rng-pci',
    '-qmp', 'unix:/run/qmp.sock,server=on,wait=off',
    '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80',
    '-device', 'virtio-net-pci,netdev=net0',
  ]);
});

test('kvm uses the host CPU model; no network means no NIC; gdb listens on loopback', () => {
  const argv = toArgv(pcMachineOptions({ ...request, accel: 'kvm', network: { kind: 'none' }, gdb: { address: '127.0.0.1', port: 1234 } }));
  assert.deepEqual(argv.slice(argv.indexOf('-accel'), argv.indexOf('-accel') + 4), ['-accel', 'kvm', '-cpu', 'host']);
  assert.ok(!argv.includes('-netdev'));
  assert.ok(!argv.some((arg) => arg.startsWith('virtio-net')));
  assert.deepEqual(argv.slice(-2), ['-gdb', 'tcp:127.0.0.1:1234']);
});

test('a comma in a path cannot inject QEMU options', () => {
  const argv = toArgv(pcMachineOptions({ ...request, statusPath: '/tmp/a,id=evil', qmpSocketPath: '/tmp/q,server=off' }));
  assert.ok(argv.includes('file,id=status,path=/tmp/a,,id=evil'));
  assert.ok(argv.includes('unix:/tmp/q,,server=off,server=on,wait=off'));
  assert.equal(escapeValue(true), 'on');
  assert.equal(escapeValue('a,b,,c'), 'a,,b,,,,c');
});

test('a console log file replaces stdio', () => {
  const argv = toArgv(pcMachineOptions({ ...request, consoleLogPath: '/run/console.log' }));
  // append: an instance's console log is kept across restarts.
  assert.ok(argv.includes('file,id=console,path=/run/console.log,append=on'));
  assert.ok(!argv.some((arg) => arg.startsWith('stdio')));
});

test('volumes become if=none drives with a virtio-blk device carrying the serial; taps never run scripts', () => {
  const argv = toArgv(
    pcMachineOptions({
      ...request,
      drives: [{ path: '/data/a,b.img', readOnly: true, serial: 'kiln-vol0' }],
      taps: [{ ifname: 'kiln0' }],
    }),
  );
  assert.ok(argv.includes('if=none,id=vol0,file=/data/a,,b.img,format=raw,readonly=on'));
  assert.ok(argv.includes('virtio-blk-pci,drive=vol0,serial=kiln-vol0'));
  assert.ok(argv.includes('tap,id=tap0,ifname=kiln0,script=no,downscript=no'));
  assert.ok(argv.includes('virtio-net-pci,netdev=tap0'));
});
