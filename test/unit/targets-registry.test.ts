import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { driverFor, getTarget, listTargets, probeTargets, qemuMachineOptions, xenTarget, microvmTarget, qemuTarget, efiTarget, diskTarget } from '../../src/targets/registry.js';
import { firmwareFor } from '../../src/targets/efi/boot.js';
import { assertTargetCarries } from '../../src/targets/carry.js';
import { parseTscKhz } from '../../src/targets/host.js';
import { HostProbe } from '../../src/targets/probe.js';
import { planLaunch } from '../../src/launch/plan.js';
import { COMPONENT_SETS } from '../../src/components/sets.js';
import type { MachineRequest } from '../../src/targets/types.js';
import { toArgv } from '../../src/targets/qemu/options.js';

test('every target is a complete typed value whose component sets exist', () => {
  const names = listTargets().map((target) => target.name);
  assert.deepEqual(names, ['qemu', 'microvm', 'xen', 'xen-host', 'efi', 'disk']);
  for (const target of listTargets()) {
    assert.ok(target.platforms.length > 0, `${target.name} has a platform`);
    for (const set of target.componentSets) assert.ok(Object.hasOwn(COMPONENT_SETS, set), `${target.name}: ${set} is a known set`);
    assert.ok(target.cmdline.some((arg) => arg === `console=${target.console}`), `${target.name} has its console on the cmdline`);
  }
  assert.equal(microvmTarget.kernel, 'vmlinux');
  assert.equal(xenTarget.kernel, 'vmlinux');
  assert.equal(qemuTarget.kernel, 'bzimage');
  assert.ok(microvmTarget.componentSets.includes('virtio-mmio') && !microvmTarget.componentSets.includes('virtio-pci'));
  assert.ok(xenTarget.componentSets.includes('xen-net'));
  assert.deepEqual(xenTarget.exit, { kind: 'poweroff' });
  assert.equal(efiTarget.boot, 'uki');
  assert.ok(['nvme', 'ena', 'gve'].every((set) => diskTarget.componentSets.includes(set)), 'the disk target covers cloud devices');
});

test('the firmware follows the target; uefi is allowed for pc images and refused where it cannot work', () => {
  assert.equal(firmwareFor(qemuTarget, undefined), 'bios');
  assert.equal(firmwareFor(qemuTarget, 'uefi'), 'uefi');
  assert.equal(firmwareFor(efiTarget, undefined), 'uefi');
  assert.equal(firmwareFor(diskTarget, 'uefi'), 'uefi');
  assert.throws(() => firmwareFor(efiTarget, 'bios'), { code: 'KILN_USAGE' });
  assert.throws(() => firmwareFor(microvmTarget, 'uefi'), { code: 'KILN_USAGE' });
});

test('getTarget names the known targets when the name is wrong, even for inherited names', () => {
  assert.equal(getTarget('microvm'), microvmTarget);
  for (const name of ['kvm', 'toString', '__proto__']) {
    assert.throws(() => getTarget(name), (error: Error & { code?: string; hint?: string }) => error.code === 'KILN_TARGET_UNKNOWN' && /qemu, microvm, xen, xen-host, efi, disk/.test(error.hint ?? ''));
  }
});

test('kiln targets: every target has a verdict, and each platform that cannot run says why', async () => {
  const rows = await probeTargets();
  assert.equal(rows.length, listTargets().length);
  for (const { target, probe } of rows) {
    assert.equal(probe.target, target.name);
    assert.equal(probe.platforms.length, target.platforms.length);
    for (const platform of probe.platforms) assert.equal(platform.usable, platform.reasons.length === 0, `${target.name}/${platform.platform}`);
    assert.equal(probe.launchable, probe.platforms[0]!.usable);
  }
  const xen = rows.find((row) => row.target.name === 'xen')!.probe;
  // This machine is no dom0; a dom0 would pass, so only check the reason when it fails.
  if (!xen.launchable) assert.ok(xen.reasons.some((reason) => /dom0/.test(reason)), xen.reasons.join('; '));
});

test('a xen image is refused by launch with the reason this host cannot run it', async () => {
  const dom0 = await readFile('/proc/xen/capabilities', 'utf8').then((text) => text.includes('control_d'), () => false);
  const xenImage = { dir: '/x', kernelPath: '/x/kernel', initrdPath: '/x/initrd', manifest: { target: 'xen', arch: 'x86_64', cmdline: '', kernel: { initSize: 1 }, app: { guestPath: '/app/a', args: [], env: {} }, memory: { minimumMiB: 64, defaultMiB: 128 } } } as never;
  const host = { arch: process.arch, kvm: {}, platform: await new HostProbe().probe({ kind: 'xl' }) };
  if (dom0) assert.equal(planLaunch(xenImage, {}, host).engine, 'xl');
  else {
    assert.throws(() => planLaunch(xenImage, {}, host), (error: Error & { code?: string; details?: string[] }) => {
      return error.code === 'KILN_PLATFORM_UNAVAILABLE' && /no Xen dom0/.test(error.message) && error.details!.some((reason) => /dom0/.test(reason));
    });
  }
  const request: MachineRequest = { kernelPath: 'k', initrdPath: 'i', cmdline: '', memoryMiB: 128, cpus: 1, accel: 'tcg', network: { kind: 'none' }, statusPath: 's', qmpSocketPath: 'q' };
  assert.throws(() => qemuMachineOptions(xenTarget, request), { code: 'KILN_TARGET_UNAVAILABLE' });
});

test('a runtime config a target cannot carry is refused with every reason', () => {
  assert.doesNotThrow(() => assertTargetCarries(qemuTarget, { userNetwork: true, taps: 1, volumes: 2 }));
  assert.throws(
    () => assertTargetCarries(xenTarget, { userNetwork: true, taps: 1, volumes: 0 }),
    (error: Error & { code?: string; details?: string[] }) =>
      error.code === 'KILN_TARGET_CANNOT_CARRY' && error.details!.length === 2 && /user-mode/.test(error.details![0]!) && /tap/.test(error.details![1]!),
  );
  const noBlock = { ...microvmTarget, componentSets: ['virtio-mmio', 'virtio-net'] };
  assert.throws(() => assertTargetCarries(noBlock, { userNetwork: false, taps: 0, volumes: 1 }), /cannot be carried/);
  assert.throws(
    () => assertTargetCarries(xenTarget, { userNetwork: false, taps: 0, volumes: 1 }),
    (error: Error & { code?: string; details?: string[] }) => error.code === 'KILN_TARGET_CANNOT_CARRY' && /Xen block devices/.test(error.details!.join(' ')),
  );
  assert.doesNotThrow(() => assertTargetCarries(xenTarget, { userNetwork: false, taps: 0, volumes: 0 }));
});

test('the host TSC frequency is read from cpuinfo only when the TSC is constant', () => {
  assert.equal(parseTscKhz('flags\t\t: fpu tsc constant_tsc nonstop_tsc\ncpu MHz\t\t: 2095.998\n'), 2095998);
  assert.equal(parseTscKhz('flags\t\t: fpu tsc\ncpu MHz\t\t: 2095.998\n'), undefined);
  assert.equal(parseTscKhz(''), undefined);
});

test('each target is one folder with one driver, and the registry lists every one of them', async () => {
  const { readdir } = await import('node:fs/promises');
  const root = new URL('../../../src/targets/', import.meta.url);
  const folders = (await readdir(root, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  const withDriver = (await Promise.all(folders.map(async (name) => ((await readdir(new URL(`${name}/`, root))).includes('driver.ts') ? name : undefined)))).filter(Boolean);
  const all = [...listTargets('x86_64'), ...listTargets('aarch64')];
  assert.equal(withDriver.length, all.length, `driver folders ${withDriver.join(', ')}`);
  const request: MachineRequest = { kernelPath: 'k', hypervisorPath: 'h', initrdPath: 'i', cmdline: '', memoryMiB: 128, cpus: 1, accel: 'tcg', network: { kind: 'none' }, statusPath: 's', qmpSocketPath: 'q' };
  const uefi = { codePath: '/c', varsPath: '/v', espDir: '/e' };
  for (const target of all) {
    const driver = driverFor(target);
    assert.equal(driver.target, target);
    // Each driver either boots under QEMU (with or without firmware) or refuses with a code.
    const boots = [request, { ...request, uefi }].map((each) => {
      try {
        return toArgv(driver.machineOptions(each)).length > 0;
      } catch (error) {
        assert.ok((error as { code?: string }).code?.startsWith('KILN_'), `${target.name}: ${String(error)}`);
        return false;
      }
    });
    assert.equal(boots.some(Boolean), target.platforms[0]!.kind === 'qemu', `${target.name}/${target.arch}`);
  }
});
