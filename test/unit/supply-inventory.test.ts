import { test } from 'node:test';
import assert from 'node:assert/strict';
import { takeInventory, type InventoryInputs } from '../../src/supply/inventory.js';
import type { BakeInputs } from '../../src/bake/types.js';
import { packageOwning } from '../../src/supply/dpkg.js';

/** The inventory from hand-made bake inputs, over the host's real dpkg database. */

const sha = (c: string) => c.repeat(64);
const file = (hostPath: string, guestPath: string, c: string) => ({ hostPath, guestPath, sha256: sha(c), size: 1, executable: true });

/** Bake's inputs are what the inventory reads (the assignment below checks it). */
const bakeInputs: Pick<BakeInputs, 'kernel' | 'modules' | 'shim' | 'app' | 'interpreter' | 'libraries' | 'data'> = {
  kernel: { file: 'kernel', sha256: sha('a'), release: '6.1.0-56-cloud-amd64', initSize: 1, source: { kind: 'debian', package: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2', sha256: sha('b') }, hostPath: '/nonexistent' },
  modules: [{ ...file('/m/virtio_net.ko', '/usr/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/net/virtio_net.ko', 'c'), name: 'virtio_net' }],
  shim: { ...file('/nonexistent/kiln-init', '/kiln/init', 'd'), compiler: 'gcc' },
  app: { ...file('/usr/bin/ls', '/usr/bin/ls', 'e'), linkage: 'dynamic', args: [], env: {} },
  interpreter: { ...file('/lib64/ld-linux-x86-64.so.2', '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'f'), loaderPath: '/lib64/ld-linux-x86-64.so.2' },
  libraries: [
    { ...file('/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6', '1'), soname: 'libc.so.6', neededBy: ['/usr/bin/ls', '/lib/x86_64-linux-gnu/libselinux.so.1'] },
    { ...file('/lib/x86_64-linux-gnu/libselinux.so.1', '/usr/lib/x86_64-linux-gnu/libselinux.so.1', '2'), soname: 'libselinux.so.1', neededBy: ['/usr/bin/ls'] },
    { ...file('/opt/nowhere/libx.so', '/opt/nowhere/libx.so', '3'), soname: 'libx.so', neededBy: ['/usr/bin/ls'] },
  ],
  data: [
    { kind: 'dir', guestPath: '/etc/app', mode: 0o755 } as never,
    { ...file('/tmp/app.conf', '/etc/app/app.conf', '4'), kind: 'file' } as never,
    { ...file('/tmp/site/index.html', '/srv/index.html', '5'), kind: 'file' } as never,
  ],
};
const inputs: InventoryInputs = bakeInputs;

test('dpkg ownership survives merged /usr: /lib and /usr/lib paths find the same package', async () => {
  assert.equal(await packageOwning('/lib/x86_64-linux-gnu/libc.so.6'), 'libc6');
  assert.equal(await packageOwning('/usr/lib/x86_64-linux-gnu/libc.so.6'), 'libc6');
  assert.equal(await packageOwning('/lib64/ld-linux-x86-64.so.2'), 'libc6');
  assert.equal(await packageOwning('/nonexistent/file'), undefined);
});

test('host files map to Debian packages; edges follow neededBy; unowned files are listed, not dropped', async () => {
  const { components, distro } = await takeInventory(inputs);
  const byId = new Map(components.map((c) => [c.id, c]));
  assert.deepEqual(components.map((c) => c.id), ['app', 'data', 'debian:libc6', 'debian:libselinux1', 'debian:musl-dev', 'kernel', 'libraries', 'shim']);
  const app = byId.get('app')!;
  assert.equal(app.debian?.package, 'coreutils', 'kiln bake /usr/bin/ls: the app is a Debian package');
  assert.equal(app.license, 'GPL-3.0-or-later');
  assert.deepEqual(app.dependsOn, ['debian:libc6', 'debian:libselinux1', 'libraries']);
  assert.deepEqual(byId.get('debian:libselinux1')!.dependsOn, ['debian:libc6']);
  assert.deepEqual(byId.get('debian:libc6')!.files, ['/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', '/usr/lib/x86_64-linux-gnu/libc.so.6']);
  assert.deepEqual(byId.get('libraries')!.files, ['/opt/nowhere/libx.so']);
  assert.deepEqual(byId.get('data')!.files, ['/etc/app/app.conf', '/srv/index.html']);
  assert.equal(byId.get('kernel')!.files.length, 1);
  assert.equal(distro?.id, 'debian');
});

test('components from package flows claim their files: no dpkg lookup, the app takes their facts', async () => {
  const { components } = await takeInventory(inputs, [
    { id: 'kiln:tool', kind: 'kiln-package', name: 'tool', version: '2.1.0', license: 'BSD-2-Clause', files: ['/usr/bin/ls', '/srv/index.html'] },
    { id: 'debian:libc6', kind: 'debian-package', name: 'libc6', version: '2.36-9', license: 'LGPL-2.1-or-later', debian: { package: 'libc6', version: '2.36-9', source: { package: 'glibc', version: '2.36-9' } }, files: ['/usr/lib/x86_64-linux-gnu/libc.so.6'] },
  ], { name: 'tool' });
  const byId = new Map(components.map((c) => [c.id, c]));
  assert.deepEqual([byId.get('app')!.version, byId.get('app')!.license, byId.get('app')!.debian], ['2.1.0', 'BSD-2-Clause', undefined]);
  assert.ok(byId.get('app')!.dependsOn.includes('kiln:tool'));
  assert.equal(byId.get('debian:libc6')!.version, '2.36-9', "the flow's record wins over the host's");
  assert.deepEqual(byId.get('data')!.files, ['/etc/app/app.conf']);
  await assert.rejects(takeInventory(inputs, [{ id: 'x', kind: 'data', name: 'x', license: 'GPLv2', files: [] }]), { code: 'KILN_LICENSE_UNKNOWN' });
});
