import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bake } from '../../src/bake/index.js';
import { withPackageApp } from '../../src/cli/commands/package-app.js';
import { xenHostTarget } from '../../src/targets/registry.js';
import { launchCaptured, tempDir, testContext } from '../helpers.js';

/**
 * The Xen rig: kiln bakes a dom0 from Debian's packages (catalogue/xen-dom0: xen-utils-4.17,
 * xenstore-utils, BusyBox, bash, Dropbear, util-linux's losetup) for the xen-host target
 * (Debian's Xen 4.17 hypervisor, Debian's generic kernel as a PV dom0 with the backends) and
 * boots it under QEMU TCG. Slow: Xen and a PV dom0 under TCG take about a minute here.
 */
const { ctx } = testContext();

test('kiln bakes a Xen dom0 from Debian packages; it boots under QEMU, runs xl, and its exit status comes back', { timeout: 30 * 60_000 }, async () => {
  const out = await tempDir();
  const request = await withPackageApp(ctx, 'catalogue:xen-dom0', { appPath: 'catalogue:xen-dom0', target: xenHostTarget });
  const image = await bake(ctx, request, `${out}/dom0.img`);
  assert.equal(image.manifest.target, 'xen-host');
  assert.match(image.manifest.kernel.source.kind === 'debian' ? image.manifest.kernel.source.package : '', /^linux-image-6\.1\.0-\d+-amd64$/);
  assert.equal(image.manifest.hypervisor?.source.package, 'xen-hypervisor-4.17-amd64');
  for (const program of ['/usr/lib/xen-4.17/bin/xl', '/usr/lib/xen-4.17/bin/xenstored', '/usr/lib/xen-4.17/bin/xenconsoled', '/bin/bash', '/usr/sbin/dropbear']) {
    assert.equal(image.manifest.files.find((f) => f.path === program)?.role, 'program', program);
  }
  assert.ok(image.manifest.modules.some((m) => m.name === 'xen_netback'), 'the net backend');
  assert.ok(image.manifest.components?.some((c) => c.id === 'debian:xen-hypervisor-4.17-amd64'), 'the hypervisor is a component');

  const result = await launchCaptured(ctx, {
    imageDir: image.dir,
    memoryMiB: 512,
    network: 'none',
    args: ['sh', '/usr/lib/kiln-dom0/dom0.sh', 'sh', '-c', 'xl list; exit 7'],
    timeoutSeconds: 20 * 60,
  });
  assert.equal(result.exitCode, 7, result.output.slice(-4000));
  assert.match(result.output, /\(XEN\) Xen version 4\.17/);
  assert.match(result.output, /kiln-dom0: ready: 4\.17\.\d+ on 6\.1\.0-\d+-amd64/);
  assert.match(result.output, /^Domain-0 +0 +512 /m);
});
