import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { exportLibvirt } from '../../src/export/libvirt.js';
import { loadImage } from '../../src/image/manifest.js';
import { microvmTarget, qemuTarget } from '../../src/targets/registry.js';
import { run } from '../../src/util/exec.js';
import { buildC, tempDir, testContext } from '../helpers.js';

/** `kiln export --libvirt`: the domain XML is checked by libvirt's own schema (virt-xml-validate). */
const { ctx } = testContext();
let work: string;
let hello: string;

before(async () => {
  work = await tempDir();
  hello = await buildC(ctx, 'examples/hello/hello.c', work, 'hello');
});

test('the exported domain validates against libvirt\'s schema, and its initrd carries a DHCP config', async (t) => {
  const image = await loadImage((await bake(ctx, { appPath: hello, target: qemuTarget }, join(work, 'hello.img'))).dir);
  const initrdOut = join(work, 'domain-initrd.cpio');
  const { xml, initrdPath } = await exportLibvirt(image, { initrdOut });
  assert.equal(initrdPath, initrdOut);
  const initrd = await readFile(initrdPath);
  const own = await readFile(image.initrdPath);
  assert.ok(initrd.subarray(0, own.length).equals(own));
  const tail = initrd.subarray(own.length).toString('latin1');
  assert.match(tail, /iface\0eth0\0dhcp\x001\0optional\x001\0/, 'DHCP on eth0, best effort: the domain runs its app without a network');
  assert.match(tail, /poweroff/);
  assert.match(xml, new RegExp(`<kernel>${image.kernelPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</kernel>`));

  const validator = await access('/usr/bin/virt-xml-validate').then(() => true, () => false);
  if (!validator) assert.fail("virt-xml-validate is missing (Debian's libvirt-clients and libxml2-utils)" + ' — scripts/setup.sh installs it');
  const file = join(work, 'app.xml');
  await writeFile(file, xml);
  const result = await run('virt-xml-validate', [file, 'domain']);
  assert.match(result.stdout + result.stderr, /validates/);
  // The schema check is not vacuous: a broken domain fails it.
  await writeFile(join(work, 'bad.xml'), xml.replace('<vcpu>1</vcpu>', '<vcpu>one</vcpu>'));
  await assert.rejects(run('virt-xml-validate', [join(work, 'bad.xml'), 'domain']));
});

test('a microvm image is refused for libvirt export, with the reason', async () => {
  const image = await loadImage((await bake(ctx, { appPath: hello, target: microvmTarget }, join(work, 'hello.mvm'))).dir);
  await assert.rejects(exportLibvirt(image), (error: Error & { code?: string }) => error.code === 'KILN_TARGET_CANNOT_CARRY' && /qemu-target/.test(error.message));
});
