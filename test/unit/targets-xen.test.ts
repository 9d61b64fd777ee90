import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { xenDefaultConfig, xlConfigForImage } from '../../src/targets/xen/image.js';
import { xenMac, xlConfig, xlDomainName } from '../../src/targets/xen/xl.js';
import { xenTarget } from '../../src/targets/xen/driver.js';

const golden = (name: string) => readFile(fileURLToPath(new URL(`../../../test/golden/${name}`, import.meta.url)), 'utf8');
const manifest = { kernel: { file: 'kernel' }, cmdline: xenTarget.cmdline.join(' '), memory: { minimumMiB: 77, defaultMiB: 144 } } as const;

test('the xl config for an image and a runtime config is exactly the golden one', async () => {
  const config = {
    version: 1 as const,
    network: { interfaces: [{ name: 'eth0', dhcp: true }, { name: 'eth1', address: '192.0.2.5/24' }], dns: [] },
  };
  const text = xlConfigForImage(manifest as never, config, { ramdiskFile: 'xen-initrd.cpio', appName: 'hello', cpus: 2, bridge: 'xenbr0' }).text.replace(
    'mac=00:16:3e:00:00:01,bridge=xenbr0',
    'mac=00:16:3e:00:00:01,bridge=xenbr1',
  );
  assert.equal(text, await golden('xen-hello.xl.cfg'));
});

test('the default xen runtime config asks for DHCP on one interface, and gets one vif', () => {
  const text = xlConfigForImage(manifest as never, xenDefaultConfig(), { ramdiskFile: 'r', appName: 'a' }).text;
  assert.match(text, /^vif = \[ "mac=00:16:3e:00:00:00,bridge=xenbr0" \]$/m);
  assert.match(text, /^memory = 144$/m);
  assert.match(text, /^type = "pvh"$/m);
});

test('volumes are refused for xen with the reason', () => {
  const config = { version: 1 as const, volumes: [{ source: '/x.img', target: '/data' }] };
  assert.throws(() => xlConfigForImage(manifest as never, config as never, { ramdiskFile: 'r', appName: 'a' }), (error: Error & { code?: string; details?: string[] }) => {
    return error.code === 'KILN_TARGET_CANNOT_CARRY' && /serial/.test(error.details!.join(' '));
  });
});

test('values that could break out of an xl string are refused, names are cleaned', () => {
  const base = { name: 'n', kernelFile: 'k', ramdiskFile: 'r', cmdline: 'c', memoryMiB: 1, cpus: 1, vifs: [], disks: [] };
  assert.throws(() => xlConfig({ ...base, cmdline: 'a" ; kernel = "evil' }), { code: 'KILN_CONFIG_INVALID' });
  assert.throws(() => xlConfig({ ...base, kernelFile: 'a\nb' }), { code: 'KILN_CONFIG_INVALID' });
  assert.equal(xlDomainName('my app"x'), 'kiln-my-app-x');
  assert.equal(xenMac(258, 3), '00:16:3e:01:02:03');
});
