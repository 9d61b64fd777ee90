import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planBake, guestPathForApp } from '../../src/bake/plan.js';
import { SUPPLY_FORMAT } from '../../src/supply/format.js';
import { ImageManifestSchema } from '../../src/image/manifest.js';
import type { BakeInputs } from '../../src/bake/types.js';
import { decodeRecords } from '../../src/config/wire.js';
import { qemuTarget } from '../../src/targets/registry.js';

const hash = (c: string) => c.repeat(64);

function inputs(overrides: Partial<BakeInputs> = {}): BakeInputs {
  return {
    target: qemuTarget,
    app: { hostPath: '/home/u/app', guestPath: '/app/app', sha256: hash('a'), size: 1000, executable: true, linkage: 'dynamic', args: ['--serve'], env: { MODE: 'x' } },
    interpreter: { hostPath: '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', guestPath: '/usr/lib64/ld-linux-x86-64.so.2', loaderPath: '/lib64/ld-linux-x86-64.so.2', sha256: hash('b'), size: 200_000, executable: true },
    libraries: [{ hostPath: '/usr/lib/x86_64-linux-gnu/libc.so.6', guestPath: '/usr/lib/x86_64-linux-gnu/libc.so.6', sha256: hash('c'), size: 2_000_000, executable: false, soname: 'libc.so.6', neededBy: ['/app/app'] }],
    symlinks: [{ path: '/lib64', target: 'usr/lib64' }],
    kernel: { hostPath: '/cache/vmlinuz', file: 'kernel', sha256: hash('d'), release: '6.1.0-56-cloud-amd64', initSize: 54_001_664, source: { kind: 'debian', package: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2', sha256: hash('e') } },
    modules: [
      { name: 'virtio', hostPath: '/cache/virtio.ko', guestPath: '/usr/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/virtio/virtio.ko', sha256: hash('f'), size: 30_000, executable: false },
      { name: 'virtio_net', hostPath: '/cache/virtio_net.ko', guestPath: '/usr/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/net/virtio_net.ko', sha256: hash('1'), size: 100_000, executable: false },
    ],
    componentSets: ['virtio-net'],
    shim: { hostPath: '/cache/kiln-init', guestPath: '/kiln/init', sha256: hash('2'), size: 70_000, executable: true, compiler: 'gcc 12; musl 1.2.3' },
    data: [],
    kilnVersion: '0.1.0',
    ...overrides,
  };
}

test('the plan is a pure function of its inputs', () => {
  assert.deepEqual(planBake(inputs()), planBake(inputs()));
  assert.notEqual(planBake(inputs()).key, planBake(inputs({ app: { ...inputs().app, sha256: hash('9') } })).key);
  assert.notEqual(planBake(inputs()).key, planBake(inputs({ kernel: { ...inputs().kernel, sha256: hash('8') } })).key);
});

test('the cache key covers the supply chain format: new inventory or SBOM code is never served from an old cache', () => {
  const plan = planBake(inputs());
  assert.equal(plan.manifest.kiln.supply, SUPPLY_FORMAT);
  assert.deepEqual(planBake(inputs(), { supply: SUPPLY_FORMAT }), plan);
  const bumped = planBake(inputs(), { supply: SUPPLY_FORMAT + 1 });
  assert.notEqual(bumped.key, plan.key);
  assert.equal(bumped.manifest.kiln.supply, SUPPLY_FORMAT + 1);
  // The manifest schema keeps the field (a stripped field would change the image identity on reload).
  assert.equal(ImageManifestSchema.parse({ ...plan.manifest, initrd: { file: 'initrd', sha256: hash('1'), size: 1 } }).kiln.supply, SUPPLY_FORMAT);
});

test('the guest tree holds the shim, the app, its loader and libraries, modules and the skeleton', () => {
  const plan = planBake(inputs());
  const byPath = new Map(plan.entries.map((entry) => [entry.path, entry]));
  for (const path of ['/kiln/init', '/kiln/image.conf', '/app/app', '/usr/lib64/ld-linux-x86-64.so.2', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/dev/console', '/proc', '/sys', '/tmp']) {
    assert.ok(byPath.has(path), path);
  }
  assert.equal(byPath.get('/kiln/init')?.mode, 0o755);
  assert.equal(byPath.get('/usr/lib/x86_64-linux-gnu/libc.so.6')?.mode, 0o644);
  assert.equal(byPath.get('/tmp')?.mode, 0o1777);
  assert.deepEqual(byPath.get('/lib64'), { path: '/lib64', kind: 'symlink', mode: 0o777, target: 'usr/lib64' });
  const conf = byPath.get('/kiln/image.conf')!.source as { data: Buffer };
  assert.deepEqual(decodeRecords(conf.data), [
    ['module', '/usr/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/virtio/virtio.ko'],
    ['module', '/usr/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/net/virtio_net.ko'],
  ]);
});

test('the manifest: sorted files with roles and hashes, app defaults, interpreter as the loader sees it, memory', () => {
  const { manifest } = planBake(inputs());
  const paths = manifest.files.map((file) => file.path);
  assert.deepEqual(paths, [...paths].sort());
  assert.equal(manifest.files.find((file) => file.path === '/app/app')?.role, 'app');
  assert.equal(manifest.files.find((file) => file.path === '/kiln/init')?.sha256, hash('2'));
  assert.deepEqual(manifest.app, { guestPath: '/app/app', args: ['--serve'], env: { MODE: 'x' }, linkage: 'dynamic', interpreter: '/lib64/ld-linux-x86-64.so.2', sha256: hash('a') });
  assert.equal(manifest.cmdline, 'console=ttyS0 rdinit=/kiln/init panic=-1 quiet');
  assert.ok(manifest.memory.minimumMiB >= Math.ceil(54_001_664 / 1048576) + 2 * 2);
  assert.ok(manifest.memory.defaultMiB >= manifest.memory.minimumMiB + 32);
});

test('apps installed on the host keep their path; others go to /app', () => {
  assert.equal(guestPathForApp('/usr/bin/ls'), '/usr/bin/ls');
  assert.equal(guestPathForApp('/opt/tool/bin/x'), '/opt/tool/bin/x');
  assert.equal(guestPathForApp('/home/me/build/server'), '/app/server');
});

test('data files, directories and symlinks go into the tree with the data role', () => {
  const plan = planBake(
    inputs({
      data: [
        { kind: 'dir', guestPath: '/etc/app' },
        { kind: 'file', hostPath: '/src/app.conf', guestPath: '/etc/app/app.conf', sha256: hash('3'), size: 12, executable: false },
        { kind: 'symlink', guestPath: '/etc/app/current.conf', target: 'app.conf' },
      ],
    }),
  );
  const byPath = new Map(plan.manifest.files.map((file) => [file.path, file]));
  assert.equal(byPath.get('/etc/app/app.conf')?.role, 'data');
  assert.equal(byPath.get('/etc/app/app.conf')?.mode, 0o644);
  assert.equal(byPath.get('/etc/app')?.kind, 'dir');
  assert.equal(byPath.get('/etc/app/current.conf')?.target, 'app.conf');
  assert.notEqual(plan.key, planBake(inputs()).key);
});

test('other programs go in beside the app with their role; a static app with dynamic programs has no interpreter of its own', () => {
  const busybox = { hostPath: '/root/bin/busybox', guestPath: '/bin/busybox', sha256: hash('7'), size: 2_000_000, executable: true };
  const plan = planBake(inputs({ programs: [busybox], app: { ...inputs().app, linkage: 'static' } }));
  const file = plan.manifest.files.find((f) => f.path === '/bin/busybox');
  assert.deepEqual(file, { path: '/bin/busybox', kind: 'file', role: 'program', mode: 0o755, size: 2_000_000, sha256: hash('7') });
  assert.equal(plan.manifest.app.interpreter, undefined);
  assert.ok(plan.entries.some((e) => e.path === '/usr/lib64/ld-linux-x86-64.so.2'));
  assert.notEqual(plan.key, planBake(inputs({ app: { ...inputs().app, linkage: 'static' } })).key);
  assert.equal(ImageManifestSchema.parse({ ...plan.manifest, initrd: { file: 'initrd', sha256: hash('1'), size: 1 } }).files.find((f) => f.path === '/bin/busybox')?.role, 'program');
});

test('a hypervisor is part of the manifest and the key, and is copied beside the kernel', () => {
  const hypervisor = { file: 'xen', sha256: hash('5'), source: { kind: 'debian' as const, package: 'xen-hypervisor-4.17-amd64', version: '4.17.7', sha256: hash('6') }, hostPath: '/cache/xen' };
  const plan = planBake(inputs({ hypervisor }));
  assert.deepEqual(plan.manifest.hypervisor, { file: 'xen', sha256: hash('5'), source: hypervisor.source });
  assert.equal(plan.hypervisorHostPath, '/cache/xen');
  assert.notEqual(plan.key, planBake(inputs()).key);
  assert.equal(planBake(inputs()).manifest.hypervisor, undefined);
});
