import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { diskTarget } from '../../src/targets/registry.js';
import { kubevirtSchemaErrors } from '../../src/export/kubevirt.js';
import { buildC, runKiln, tempDir, testContext } from '../helpers.js';
import { startRegistry, type TestRegistry } from '../registry.js';
import { bakeHello } from '../oci-fixtures.js';

/**
 * KubeVirt: a disk-target image pushed as a containerDisk (checked with skopeo: a container
 * image whose one layer is /disk/disk.qcow2 owned by 107:107, the same disk as disk.raw), and
 * a VirtualMachine manifest validated against KubeVirt's published schema (vendored; no
 * cluster runs here).
 */
const { ctx } = testContext();
let registry: TestRegistry;
let diskDir: string;
let work: string;

before(async () => {
  registry = await startRegistry();
  work = await tempDir('kiln-kubevirt-');
  const app = await buildC(ctx, join(process.cwd(), 'examples/hello/hello.c'), work, 'hello');
  diskDir = (await bake(ctx, { appPath: app, target: diskTarget }, join(work, 'hello.disk'))).dir;
});
after(async () => {
  await registry?.stop();
});

test('push --containerdisk: a container image with the qcow2 under /disk/, reproducible, seen so by skopeo', async () => {
  const ref = `${registry.host}/me/hello-disk:1`;
  const first = await runKiln(['push', diskDir, ref, '--containerdisk']);
  assert.equal(first.code, 0, first.stderr);
  const again = await runKiln(['push', diskDir, `${registry.host}/me/hello-disk:2`, '--containerdisk']);
  assert.equal(again.stdout.trim(), first.stdout.trim(), 'same disk image, same digest');
  const info = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' })) as { Digest: string; Architecture: string; Os: string; Layers: string[] };
  assert.equal(info.Digest, first.stdout.trim());
  assert.equal(info.Architecture, 'amd64');
  assert.equal(info.Os, 'linux');
  assert.equal(info.Layers.length, 1);
  const copy = join(work, 'copy');
  execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `dir:${copy}`], { stdio: 'pipe' });
  const layer = join(copy, info.Layers[0]!.replace('sha256:', ''));
  const listing = execFileSync('tar', ['-tvf', layer, '--numeric-owner'], { encoding: 'utf8' }).trim().split('\n');
  assert.equal(listing.length, 2);
  assert.match(listing[0]!, /^dr-xr-xr-x 107\/107 .* disk\/$/);
  assert.match(listing[1]!, /^-r--r--r-- 107\/107 .* disk\/disk\.qcow2$/);
  const extracted = join(work, 'extracted');
  execFileSync('mkdir', ['-p', extracted]);
  execFileSync('tar', ['-xf', layer, '-C', extracted]);
  const qcow2 = join(extracted, 'disk/disk.qcow2');
  assert.match(execFileSync('qemu-img', ['info', qcow2], { encoding: 'utf8' }), /file format: qcow2/);
  // The containerDisk holds exactly the image's disk.
  execFileSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', qcow2, join(diskDir, 'disk.raw')]);
  // kiln pull knows it is not a kiln image.
  const pulled = await runKiln(['pull', ref]);
  assert.match(pulled.stderr, /KILN_OCI_NOT_KILN_IMAGE: .* is a container image, not a kiln image/);
});

test('export --kubevirt: a VirtualMachine that boots the containerDisk, valid against KubeVirt\'s schema', async () => {
  const pushed = await runKiln(['push', diskDir, `${registry.host}/me/vm:1`, '--containerdisk']);
  const ref = `${registry.host}/me/vm@${pushed.stdout.trim()}`;
  const exported = await runKiln(['export', diskDir, '--kubevirt', ref, '--name', 'hello-vm']);
  assert.equal(exported.code, 0, exported.stderr);
  const vm = JSON.parse(exported.stdout) as { apiVersion: string; kind: string; metadata: { name: string }; spec: { template: { spec: { volumes: Array<{ containerDisk: { image: string } }>; domain: { firmware: unknown } } } } };
  assert.equal(vm.apiVersion, 'kubevirt.io/v1');
  assert.equal(vm.kind, 'VirtualMachine');
  assert.equal(vm.metadata.name, 'hello-vm');
  assert.equal(vm.spec.template.spec.volumes[0]!.containerDisk.image, ref);
  assert.deepEqual(kubevirtSchemaErrors(vm), []);
  // The schema is strict enough to catch mistakes: a misspelt field and a wrong type are refused.
  const misspelt = structuredClone(vm) as unknown as { spec: { template: { spec: { domain: Record<string, unknown> } } } };
  misspelt.spec.template.spec.domain.firmwre = {};
  assert.ok(kubevirtSchemaErrors(misspelt).some((line) => line.includes('firmwre')));
  const wrongType = structuredClone(vm) as unknown as { spec: { runStrategy: unknown } };
  wrongType.spec.runStrategy = 3;
  assert.ok(kubevirtSchemaErrors(wrongType).length > 0);
  const schema = JSON.parse(await readFile(join(process.cwd(), 'src/export/schemas/kubevirt-virtualmachine.schema.json'), 'utf8')) as { $comment: string };
  assert.match(schema.$comment, /kubevirt\/kubevirt api\/openapi-spec\/swagger\.json at commit [0-9a-f]{40}/);
});

test('a qemu-target image cannot be a containerDisk or a KubeVirt VM', async () => {
  const hello = await bakeHello(ctx);
  const pushed = await runKiln(['push', hello, `${registry.host}/me/nodisk:1`, '--containerdisk']);
  assert.equal(pushed.code, 125);
  assert.match(pushed.stderr, /KILN_TARGET_CANNOT_CARRY: --containerdisk needs a disk-target image/);
  const exported = await runKiln(['export', hello, '--kubevirt', `${registry.host}/me/nodisk:1`]);
  assert.match(exported.stderr, /KILN_TARGET_CANNOT_CARRY/);
  assert.deepEqual((await readdir(join(registry.storage, 'docker/registry/v2/repositories')).catch(() => [] as string[])).filter((name) => name === 'nodisk'), []);
});
