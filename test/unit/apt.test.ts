import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVersionedKernelPackage, kernelDependency, parseAptStanzas } from '../../src/components/apt.js';
import { compareDebianVersions } from '../../src/components/debian-version.js';

test('parseAptStanzas splits stanzas and joins continuation lines', () => {
  const stanzas = parseAptStanzas(
    [
      'Package: linux-image-cloud-amd64',
      'Version: 6.1.192-2',
      'Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)',
      'Description: Linux for x86-64 cloud (meta-package)',
      ' more text',
      '',
      'Package: linux-image-6.1.0-56-cloud-amd64',
      'SHA256: e7d02b943971edcb8790e256c02cfab3bca6c3d37c1bf25392a57c71300615ee',
      'Size: 26713492',
      '',
    ].join('\n'),
  );
  assert.equal(stanzas.length, 2);
  assert.equal(stanzas[0]!.Description, 'Linux for x86-64 cloud (meta-package)\nmore text');
  assert.equal(stanzas[1]!.Size, '26713492');
});

test('kernelDependency finds the versioned kernel in a metapackage Depends', () => {
  assert.deepEqual(kernelDependency('linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)'), { name: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2' });
  assert.deepEqual(kernelDependency('kmod, linux-image-6.12.9+bpo-cloud-amd64:amd64 | foo'), { name: 'linux-image-6.12.9+bpo-cloud-amd64' });
  assert.equal(kernelDependency('kmod, linux-base (>= 4.3~)'), undefined);
  assert.equal(isVersionedKernelPackage('linux-image-6.1.0-56-cloud-amd64'), true);
  assert.equal(isVersionedKernelPackage('linux-image-cloud-amd64'), false);
});

test('compareDebianVersions follows dpkg ordering', () => {
  const ascending = ['6.1.192-1', '6.1.192-2', '6.1.192-10', '6.12~rc1-1', '6.12-1', '6.12.107-1~deb12u1', '6.12.107-1', '6.12.107-1+b1', '6.12.107a-1'];
  ascending.forEach((a, i) =>
    ascending.forEach((b, j) => assert.equal(Math.sign(compareDebianVersions(a, b)), Math.sign(i - j), `${a} vs ${b}`)),
  );
  assert.ok(compareDebianVersions('1:0.1', '9.9-9') > 0, 'an epoch wins over everything');
  assert.equal(compareDebianVersions('6.01', '6.1'), 0);
  assert.ok(compareDebianVersions('1.0~', '1.0') < 0);
  assert.ok(compareDebianVersions('1.0', '1.0a') < 0);
  assert.ok(compareDebianVersions('1.0a', '1.0+') < 0, 'letters sort before other symbols');
});
