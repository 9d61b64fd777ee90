import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadedImage } from '../../src/image/manifest.js';
import { chooseAccel, planLaunch, type HostFacts } from '../../src/launch/plan.js';
import { machineRequest } from '../../src/launch/engines/qemu.js';
import { toArgv } from '../../src/targets/qemu/options.js';
import { qemuMachineOptions } from '../../src/targets/registry.js';

/**
 * planLaunch is pure: what only a boot reached before (memory and carry refusals, the firmware
 * and accelerator choices, the records the shim reads) is checked here from values.
 */
function image(target: string, arch = 'x86_64'): LoadedImage {
  const cmdline = target === 'xen' ? 'console=hvc0 rdinit=/kiln/init panic=-1 quiet' : 'console=ttyS0 rdinit=/kiln/init panic=-1 quiet';
  return {
    dir: `/images/${target}`,
    kernelPath: `/images/${target}/kernel`,
    initrdPath: `/images/${target}/initramfs.cpio`,
    manifest: {
      target,
      arch,
      cmdline,
      kernel: { file: 'kernel', initSize: 54_000_000 },
      app: { guestPath: '/app/hello', args: ['default'], env: { MODE: 'image' }, linkage: 'static' },
      memory: { minimumMiB: 77, defaultMiB: 144 },
    },
  } as unknown as LoadedImage;
}

const noKvm: HostFacts = { arch: 'x64', kvm: { deviceProblem: 'this host has no /dev/kvm' }, tscKhz: 2_000_000 };
const dom0: HostFacts = { ...noKvm, platform: { platform: 'xl', usable: true, reasons: [], notes: [] } };
const notDom0: HostFacts = { ...noKvm, platform: { platform: 'xl', usable: false, reasons: ['no Xen dom0 (/proc/xen/capabilities missing)'], notes: [] } };
const code = (expected: string, message?: RegExp) => (error: Error & { code?: string }) => error.code === expected && (!message || message.test(error.message));

test('memory: the image default, what was asked, and a size below the image minimum refused with the figures', () => {
  assert.equal(planLaunch(image('qemu'), {}, noKvm).memoryMiB, 144);
  assert.equal(planLaunch(image('qemu'), { memoryMiB: 77 }, noKvm).memoryMiB, 77);
  assert.throws(
    () => planLaunch(image('qemu'), { memoryMiB: 64 }, noKvm),
    (error: Error & { code?: string; hint?: string }) => error.code === 'KILN_MEMORY_TOO_SMALL' && /at least 77 MiB/.test(error.message) && /-m 77M/.test(error.hint ?? '') && /52 MiB/.test(error.hint ?? ''),
  );
  // The same rule holds for every engine, the xl one and the libvirt export included.
  assert.throws(() => planLaunch(image('xen'), { memoryMiB: 64 }, dom0), code('KILN_MEMORY_TOO_SMALL'));
  assert.throws(() => planLaunch(image('qemu'), { engine: 'libvirt', memoryMiB: 64, network: 'none' }, noKvm), code('KILN_MEMORY_TOO_SMALL'));
});

test('cpus: 1 by default, whole numbers from 1 to 64', () => {
  assert.equal(planLaunch(image('qemu'), {}, noKvm).cpus, 1);
  assert.equal(planLaunch(image('qemu'), { cpus: 64 }, noKvm).cpus, 64);
  for (const cpus of [0, 65, 1.5]) assert.throws(() => planLaunch(image('qemu'), { cpus }, noKvm), code('KILN_USAGE', /--cpus/));
});

test('what a target cannot carry is refused before anything starts, with every reason', () => {
  const ports = [{ protocol: 'tcp' as const, hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 }];
  assert.throws(
    () => planLaunch(image('xen'), { ports, taps: [{ ifname: 'kt0', dhcp: true }] }, dom0),
    (error: Error & { code?: string; details?: string[] }) => error.code === 'KILN_TARGET_CANNOT_CARRY' && error.details!.length === 2,
  );
  assert.throws(
    () => planLaunch(image('xen'), { volumes: [{ source: '/srv', target: '/srv' }] }, dom0),
    (error: Error & { code?: string; details?: string[] }) => error.code === 'KILN_TARGET_CANNOT_CARRY' && /Xen block devices/.test(error.details!.join(' ')),
  );
  assert.throws(() => planLaunch(image('qemu'), { engine: 'libvirt', network: 'none', volumes: [{ source: '/srv', target: '/srv' }] }, noKvm), code('KILN_TARGET_CANNOT_CARRY', /libvirt/));
  // A memory refusal comes first: the order of refusals is fixed.
  assert.throws(() => planLaunch(image('xen'), { memoryMiB: 8, ports }, dom0), code('KILN_MEMORY_TOO_SMALL'));
  const plan = planLaunch(image('qemu'), { ports, taps: [{ ifname: 'kt0', dhcp: true }], volumes: [{ source: '/srv', target: '/srv' }] }, noKvm);
  assert.deepEqual(plan.network, { kind: 'user', forwards: ports });
  assert.deepEqual(plan.taps, [{ ifname: 'kt0' }]);
  assert.deepEqual(plan.config.network?.interfaces.map((iface) => iface.name), ['eth0', 'eth1']);
});

test('the platform: xl on a dom0, refused elsewhere with the probe\'s reasons', () => {
  assert.throws(
    () => planLaunch(image('xen'), {}, notDom0),
    (error: Error & { code?: string; details?: string[] }) => error.code === 'KILN_PLATFORM_UNAVAILABLE' && /no Xen dom0/.test(error.message) && error.details!.length === 1,
  );
  const plan = planLaunch(image('xen'), {}, dom0);
  assert.equal(plan.engine, 'xl');
  assert.equal(plan.accel, undefined, 'Xen runs the domain: no QEMU accelerator');
  assert.deepEqual(plan.config.network, { interfaces: [{ name: 'eth0', dhcp: true, optional: true }], dns: [] }, 'DHCP on the dom0 bridge by default, best effort');
  assert.equal(planLaunch(image('xen'), { network: 'none' }, dom0).config.network, undefined);
  assert.ok(plan.records.some(([key, value]) => key === 'status' && value === '/dev/hvc0'));
  assert.ok(plan.records.some(([key, value]) => key === 'exit' && value === 'poweroff'));
  assert.equal(planLaunch(image('microvm'), {}, noKvm).engine, 'qemu', 'microvm runs on QEMU first, Firecracker is never started');
});

test('firmware: what the target needs, uefi where a pc machine can do it, refused elsewhere', () => {
  assert.equal(planLaunch(image('qemu'), {}, noKvm).firmware, 'bios');
  assert.equal(planLaunch(image('qemu'), { firmware: 'uefi' }, noKvm).firmware, 'uefi');
  assert.equal(planLaunch(image('efi'), {}, noKvm).firmware, 'uefi');
  assert.equal(planLaunch(image('disk'), {}, noKvm).firmware, 'uefi');
  assert.throws(() => planLaunch(image('efi'), { firmware: 'bios' }, noKvm), code('KILN_USAGE'));
  assert.throws(() => planLaunch(image('microvm'), { firmware: 'uefi' }, noKvm), code('KILN_USAGE'));
  assert.throws(() => planLaunch(image('qemu', 'aarch64'), { firmware: 'uefi' }, noKvm), code('KILN_USAGE'));
});

test('accelerator: asked, forced to TCG across architectures, and auto from the probe\'s verdict', () => {
  const kvmOk: HostFacts = { arch: 'x64', kvm: {} };
  assert.deepEqual(chooseAccel('tcg', 'x86_64', kvmOk), { accel: 'tcg', reason: 'requested with --accel tcg', cached: false });
  assert.deepEqual(chooseAccel('kvm', 'x86_64', kvmOk), { accel: 'kvm', reason: 'requested with --accel kvm', cached: false });
  assert.throws(() => chooseAccel('kvm', 'x86_64', noKvm), code('KILN_ACCEL_UNAVAILABLE', /no \/dev\/kvm/));
  assert.match((chooseAccel('auto', 'x86_64', noKvm) as { reason: string }).reason, /no \/dev\/kvm, so using TCG/);
  assert.equal(chooseAccel('auto', 'x86_64', kvmOk), 'probe');
  assert.deepEqual(chooseAccel('auto', 'x86_64', { arch: 'x64', kvm: { verdict: { usable: true, reason: 'a KVM probe boot took 0.4s', cached: true } } }), {
    accel: 'kvm',
    reason: 'a KVM probe boot took 0.4s',
    cached: true,
  });
  const slow = chooseAccel('auto', 'x86_64', { arch: 'x64', kvm: { verdict: { usable: false, reason: 'it did not finish', cached: false } } });
  assert.deepEqual(slow, { accel: 'tcg', reason: 'KVM is present but not usable: it did not finish; using TCG', cached: false });
  // An aarch64 guest on an x86_64 host: TCG whatever /dev/kvm says; KVM asked for is refused.
  assert.equal((chooseAccel('auto', 'aarch64', kvmOk) as { accel: string }).accel, 'tcg');
  assert.throws(() => chooseAccel('kvm', 'aarch64', kvmOk), code('KILN_ACCEL_UNAVAILABLE', /aarch64/));
  // In a plan: a KVM without a verdict asks launch for the probe boot, and no accelerator is set yet.
  const pending = planLaunch(image('qemu'), {}, kvmOk);
  assert.equal(pending.needsKvmProbe, true);
  assert.equal(pending.accel, undefined);
  assert.equal(planLaunch(image('qemu'), { accel: 'tcg' }, kvmOk).accel?.accel, 'tcg');
});

test('the shim\'s records: app defaults under the runtime config, plumbing per target and engine', () => {
  const plan = planLaunch(image('qemu'), { args: ['a', 'b'], env: { EXTRA: '1' }, hostname: 'web' }, noKvm);
  const get = (key: string) => plan.records.filter(([name]) => name === key).map(([, value]) => value);
  assert.deepEqual(get('app'), ['/app/hello']);
  assert.deepEqual(get('arg'), ['a', 'b']);
  assert.deepEqual(get('env'), ['EXTRA=1', 'MODE=image']);
  assert.deepEqual(get('hostname'), ['web']);
  assert.deepEqual(get('status'), ['/dev/ttyS1']);
  assert.deepEqual(get('exit'), ['isa-debug-exit:0xf4']);
  const arm = planLaunch(image('qemu', 'aarch64'), {}, noKvm);
  assert.ok(arm.records.some(([key, value]) => key === 'power-gpio' && value === '/dev/gpiochip0:3'));
  // The libvirt engine ends the VM by powering off: libvirt's QEMU reports isa-debug-exit as a crash.
  const libvirt = planLaunch(image('qemu'), { engine: 'libvirt', network: 'none', config: { version: 1, network: { interfaces: [{ name: 'eth0', dhcp: true }], dns: [] } } }, noKvm);
  assert.deepEqual(libvirt.records.filter(([key]) => key === 'exit'), [['exit', 'poweroff']]);
  assert.ok(libvirt.records.some(([key]) => key === 'dhcp'));
});

test('a QEMU plan renders the same argv as the target\'s machine options, with the host TSC on microvm under TCG', () => {
  const plan = planLaunch(image('microvm'), { accel: 'tcg', memoryMiB: 96, cpus: 2 }, noKvm);
  const runDir = { initrdPath: '/run/k/initrd.cpio', statusPath: '/run/k/status', qmpSocketPath: '/run/k/qmp.sock' };
  const argv = toArgv(qemuMachineOptions(plan.target, machineRequest(plan, runDir)));
  assert.deepEqual(argv.slice(argv.indexOf('-m'), argv.indexOf('-m') + 4), ['-m', '96M', '-smp', '2']);
  assert.match(argv[argv.indexOf('-append') + 1]!, / tsc_early_khz=2000000$/);
  assert.ok(argv.includes('unix:/run/k/qmp.sock,server=on,wait=off'));
});
