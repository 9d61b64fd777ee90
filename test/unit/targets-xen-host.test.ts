import { test } from 'node:test';
import assert from 'node:assert/strict';
import { xenHostMachineOptions, xenCommandLine } from '../../src/targets/xen-host/machine.js';
import { toArgv } from '../../src/targets/qemu/options.js';
import { getTarget, qemuMachineOptions } from '../../src/targets/registry.js';
import type { MachineRequest } from '../../src/targets/types.js';

const request: MachineRequest = {
  kernelPath: '/img/kernel',
  hypervisorPath: '/img/xen',
  initrdPath: '/run/initrd.cpio',
  cmdline: 'console=hvc0 rdinit=/kiln/init panic=-1 quiet',
  memoryMiB: 512,
  cpus: 1,
  accel: 'tcg',
  network: { kind: 'user', forwards: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 }] },
  statusPath: '/run/status',
  qmpSocketPath: '/run/qmp.sock',
};

test('a xen-host machine boots Xen by multiboot with dom0 kernel and initrd as modules: the golden argv', () => {
  assert.deepEqual(toArgv(xenHostMachineOptions(request)), [
    '-nodefaults', '-no-user-config', '-no-reboot',
    '-display', 'none',
    '-machine', 'q35',
    '-accel', 'tcg',
    '-cpu', 'qemu64,+svm,+npt',
    '-m', '1536M',
    '-smp', '2',
    '-kernel', '/img/xen',
    '-initrd', '/img/kernel console=hvc0 rdinit=/kiln/init panic=-1 quiet,/run/initrd.cpio',
    '-append', 'console=com1 dom0_mem=512M,max:512M dom0_max_vcpus=1 noreboot',
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-chardev', 'file,id=status,path=/run/status',
    '-serial', 'chardev:status',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-qmp', 'unix:/run/qmp.sock,server=on,wait=off',
    '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22',
    '-device', 'virtio-net-pci,netdev=net0',
  ]);
  // The registry is the only switch: the target's machine function is the one above.
  assert.deepEqual(qemuMachineOptions(getTarget('xen-host'), request), xenHostMachineOptions(request));
});

test('a comma in a module path or command line cannot split the multiboot module list', () => {
  const argv = toArgv(xenHostMachineOptions({ ...request, kernelPath: '/a,b/kernel', cmdline: 'x=1,2', initrdPath: '/r,un/initrd' }));
  assert.equal(argv[argv.indexOf('-initrd') + 1], '/a,,b/kernel x=1,,2,/r,,un/initrd');
});

test('under KVM the host CPU is passed through (nested SVM/VMX is up to the host)', () => {
  const argv = toArgv(xenHostMachineOptions({ ...request, accel: 'kvm' }));
  assert.equal(argv[argv.indexOf('-cpu') + 1], 'host');
});

test("Xen's command line fixes dom0's memory and CPUs; the machine has room for guests besides", () => {
  assert.equal(xenCommandLine({ memoryMiB: 768, cpus: 2 }), 'console=com1 dom0_mem=768M,max:768M dom0_max_vcpus=2 noreboot');
  const target = getTarget('xen-host');
  assert.equal(target.kernelPackage, 'linux-image-amd64');
  assert.deepEqual(target.hypervisor, { package: 'xen-hypervisor-4.17-amd64', file: '/boot/xen-4.17-amd64.gz' });
  assert.ok(target.componentSets.includes('xen-dom0'));
});

test('a machine without its hypervisor is a programming error, not a silent plain boot', () => {
  const { hypervisorPath: _, ...plain } = request;
  assert.throws(() => xenHostMachineOptions(plain));
});
