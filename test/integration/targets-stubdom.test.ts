import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { loadImage } from '../../src/image/manifest.js';
import { qemuTarget, xenTarget } from '../../src/targets/registry.js';
import { launchCaptured, tempDir, testContext } from '../helpers.js';

/**
 * The seed's use case, a QEMU stub domain: Debian's qemu-system-x86_64, unmodified, with the
 * libraries kiln finds from its dynamic section, baked for Xen (PVH, Xen front-ends) and for
 * QEMU, where it boots and prints its version from inside the VM.
 */
const QEMU = '/usr/bin/qemu-system-x86_64';
const { ctx } = testContext();

test("Debian's qemu-system-x86_64 bakes for xen and for qemu, and runs --version inside the VM", async (t) => {
  if (!(await access(QEMU).then(() => true, () => false))) assert.fail('qemu-system-x86 is not installed' + ' — scripts/setup.sh installs it');
  const work = await tempDir();

  const xen = await loadImage((await bake(ctx, { appPath: QEMU, target: xenTarget }, join(work, 'qemu.xen'))).dir);
  assert.equal(xen.manifest.app.linkage, 'dynamic');
  assert.ok(xen.manifest.files.filter((file) => file.role === 'library').length > 20, 'its shared libraries are in the image');
  assert.match(await readFile(join(xen.dir, 'xl.cfg'), 'utf8'), /^name = "kiln-qemu-system-x86_64"$/m);

  const image = (await bake(ctx, { appPath: QEMU, target: qemuTarget }, join(work, 'qemu.img'))).dir;
  const result = await launchCaptured(ctx, { imageDir: image, args: ['--version'], network: 'none' });
  assert.match(result.output, /QEMU emulator version \d+\.\d+/);
  assert.deepEqual(result.report, { kind: 'exited', code: 0 });
  t.diagnostic(`qemu --version in a VM under TCG: exit ${result.timings.exitMs} ms`);
});
