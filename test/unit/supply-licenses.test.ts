import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { checkLicense, isCopyleft, policyViolations } from '../../src/supply/licenses.js';
import { debianExpressionToSpdx, debianLicense, debianLicenseToSpdx, dep5License, licenseFromCopyright, packageLicense, statementLicense } from '../../src/supply/debian-license.js';
import * as debianModule from '../../src/debian/license.js';
import { enforceLicensePolicy } from '../../src/supply/bake.js';
import { licenseReport, sourceOffer } from '../../src/supply/bundle.js';
import type { Component } from '../../src/image/components.js';

test('SPDX expressions: valid ones give their ids, unknown ids are refused with a message', () => {
  assert.deepEqual(checkLicense('MIT'), { valid: true, ids: ['MIT'] });
  assert.deepEqual(checkLicense('GPL-2.0-only OR (MIT AND BSD-3-Clause)'), { valid: true, ids: ['BSD-3-Clause', 'GPL-2.0-only', 'MIT'] });
  assert.deepEqual(checkLicense('GPL-3.0-or-later WITH GCC-exception-3.1'), { valid: true, ids: ['GPL-3.0-or-later'] });
  assert.deepEqual(checkLicense('LicenseRef-public-domain'), { valid: true, ids: ['LicenseRef-public-domain'] });
  assert.deepEqual(checkLicense('NOASSERTION'), { valid: true, ids: ['NOASSERTION'] });
  for (const bad of ['GPLv2', 'MIT AND', 'Apache 2', '']) {
    const check = checkLicense(bad);
    assert.equal(check.valid, false, bad);
  }
});

test('license policy: deny, allow lists with globs, OR needs one acceptable side', () => {
  assert.deepEqual(policyViolations('GPL-3.0-only', { deny: ['GPL-3.0-only'] }), ['GPL-3.0-only']);
  assert.deepEqual(policyViolations('GPL-3.0-only OR MIT', { deny: ['GPL-3.0-only'] }), []);
  assert.deepEqual(policyViolations('GPL-3.0-only AND MIT', { deny: ['GPL-3.0-only'] }), ['GPL-3.0-only']);
  assert.deepEqual(policyViolations('GPL-2.0-only', { allow: ['GPL-*', 'MIT'] }), []);
  assert.deepEqual(policyViolations('Apache-2.0', { allow: ['MIT'] }), ['Apache-2.0']);
  assert.deepEqual(policyViolations('NOASSERTION', { allow: ['MIT'] }), ['NOASSERTION']);
  assert.deepEqual(policyViolations('NOASSERTION', { deny: ['GPL-3.0-only'] }), []);
  assert.deepEqual(policyViolations('MIT', { allow: [], deny: [] }), [], 'empty lists (kiln.toml defaults) allow everything');
  const components: Component[] = [
    { id: 'kernel', kind: 'kernel', name: 'linux', version: '6.1', license: 'GPL-2.0-only', files: [], dependsOn: [] },
    { id: 'shim', kind: 'shim', name: 'kiln-init', license: 'Apache-2.0', files: [], dependsOn: [] },
  ];
  assert.throws(() => enforceLicensePolicy(components, { deny: ['GPL-2.0-only'] }), (error: { code: string; details: string[] }) => error.code === 'KILN_LICENSE_DENIED' && error.details.length === 1 && /kernel/.test(error.details[0]!));
  enforceLicensePolicy(components, { allow: ['GPL-2.0-only', 'Apache-2.0'] });
});

test('copyleft detection, and the source offer names each copyleft component with apt-get source', () => {
  assert.equal(isCopyleft('GPL-2.0-only'), true);
  assert.equal(isCopyleft('LGPL-2.1-or-later'), true);
  assert.equal(isCopyleft('MIT OR GPL-2.0-only'), true);
  assert.equal(isCopyleft('Apache-2.0'), false);
  const report = licenseReport([
    { id: 'kernel', kind: 'kernel', name: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2', license: 'GPL-2.0-only', debian: { package: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2', source: { package: 'linux', version: '6.1.192-2' } }, files: [], dependsOn: [] },
    { id: 'debian:musl-dev', kind: 'debian-package', name: 'musl-dev', version: '1.2.3-1', license: 'MIT', debian: { package: 'musl-dev', version: '1.2.3-1', source: { package: 'musl', version: '1.2.3-1' } }, files: [], dependsOn: [] },
    { id: 'app', kind: 'app', name: 'hello', license: 'NOASSERTION', files: [], dependsOn: [] },
  ]);
  assert.deepEqual(report.unknown, ['app']);
  const offer = sourceOffer(report, 'hello.img');
  assert.match(offer, /linux-image-6\.1\.0-56-cloud-amd64 6\.1\.192-2 \(kernel\)\n  license: GPL-2\.0-only\n  source:  Debian source package linux 6\.1\.192-2: apt-get source linux=6\.1\.192-2/);
  assert.doesNotMatch(offer, /musl/);
});

test('Debian copyright files: DEP-5 short names map to SPDX; free-form GNU statements are read', async () => {
  assert.equal(debianExpressionToSpdx('GPL-2+'), 'GPL-2.0-or-later');
  assert.equal(debianExpressionToSpdx('GPL-2+ or Artistic-2'), 'GPL-2.0-or-later OR Artistic-2.0');
  assert.equal(debianExpressionToSpdx('Expat'), 'MIT');
  assert.equal(debianExpressionToSpdx('BSD-3-clause and LGPL-2.1+'), 'BSD-3-Clause AND LGPL-2.1-or-later');
  assert.equal(debianExpressionToSpdx('GPL-3+ with Autoconf exception'), 'GPL-3.0-or-later WITH Autoconf-exception-3.0');
  // A named license with no SPDX id keeps its name as a valid LicenseRef.
  assert.equal(debianExpressionToSpdx('SomethingHomeMade'), 'LicenseRef-Debian-SomethingHomeMade');
  const dep5 = 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: x\n\nFiles: debian/*\nLicense: GPL-2+\n\nFiles: *\nCopyright: 2020 Someone\nLicense: BSD-3-clause\n Redistribution and use...\n';
  assert.equal(dep5License(dep5), 'BSD-3-Clause');
  assert.equal(dep5License('This is not DEP-5.\n'), undefined);
  // The host's own files: musl-dev is DEP-5 (MIT); libc6 is free-form (LGPL 2.1 or later).
  const musl = await readFile('/usr/share/doc/musl-dev/copyright', 'utf8');
  assert.equal(dep5License(musl), 'MIT');
  const glibc = await readFile('/usr/share/doc/libc6/copyright', 'utf8');
  assert.equal(statementLicense(glibc), 'LGPL-2.1-or-later');
  assert.deepEqual(debianLicense('glibc', glibc), { license: 'LGPL-2.1-or-later', via: 'known' });
  assert.equal(statementLicense('This library (libselinux) is public domain software.\n\nParts: GNU Lesser General Public License, version 2.1 of the License, or (at your option) any later version.'), 'LicenseRef-public-domain');
  assert.deepEqual(debianLicense('some-source', undefined), { license: 'NOASSERTION', via: 'none' });
  // libxcrypt's wording of "or later" (libcrypt1 on the host).
  assert.equal(statementLicense('The overall license for libxcrypt is the GNU Lesser General Public\nLicense, version 2.1 (or, at your option, any later version); see'), 'LGPL-2.1-or-later');
  assert.equal(statementLicense('under the terms of the GNU General Public License version 2, as published'), 'GPL-2.0-only');
});

test('one Debian mapping: src/debian re-exports src/supply, and every named license gives valid SPDX', () => {
  assert.equal(debianModule.debianExpressionToSpdx, debianExpressionToSpdx);
  assert.equal(debianModule.licenseFromCopyright, licenseFromCopyright);
  assert.equal(debianModule.packageLicense, packageLicense);
  const named: [string, string][] = [
    ['GPL-2+ with OpenSSL exception', 'LicenseRef-Debian-GPL-2-or-later-with-OpenSSL-exception'],
    ['LGPL-2.1+ or Weird License (v3)', 'LGPL-2.1-or-later OR LicenseRef-Debian-Weird-License-v3'],
    ['GPL-2+ with Autoconf exception', 'GPL-2.0-or-later WITH Autoconf-exception-2.0'],
    ['GPL-2.0+', 'GPL-2.0-or-later'],
    ['Permissive+', 'LicenseRef-Debian-Permissive-or-later'],
    ['((unbalanced', 'LicenseRef-Debian-unbalanced'],
    ['GPL-2+, and BSD-3-clause or MIT', 'GPL-2.0-or-later AND (BSD-3-Clause OR MIT)'],
    ['', 'NOASSERTION'],
    ['GFDL-NIV-1.3+', 'GFDL-1.3-no-invariants-or-later'],
    ['APACHE-2-LLVM-EXCEPTIONS or MIT', 'Apache-2.0 WITH LLVM-exception OR MIT'],
  ];
  for (const [debian, spdx] of named) {
    assert.equal(debianExpressionToSpdx(debian), spdx, debian);
    assert.equal(checkLicense(spdx).valid, true, spdx);
  }
  assert.equal(debianLicenseToSpdx('Sleepycat'), 'Sleepycat');
  assert.equal(debianLicenseToSpdx('Ünïcode Licence'), 'LicenseRef-Debian-n-code-Licence');
  // DEP-5 with a license Debian names but SPDX does not: the name is kept, via dep5.
  const custom = 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: x\nLicense: Custom-Permissive\n text\n';
  assert.deepEqual(debianLicense('somesrc', custom), { license: 'LicenseRef-Debian-Custom-Permissive', via: 'dep5' });
  assert.equal(licenseFromCopyright(custom), 'LicenseRef-Debian-Custom-Permissive');
  // The old Format-Specification header of DEP-5 drafts is still DEP-5.
  assert.equal(dep5License('Format-Specification: http://svn.debian.org/wsvn/dep/web/deps/dep5.mdwn?op=file&rev=135\n\nFiles: *\nLicense: GPL-2+\n'), 'GPL-2.0-or-later');
  // Free-form files without a recognisable statement stay NOASSERTION, in both entry points.
  const prose = 'This package was debianized by someone.\nIt may be used freely, see the upstream site.\n';
  assert.deepEqual(debianLicense('somesrc', prose), { license: 'NOASSERTION', via: 'none' });
  assert.equal(packageLicense('somesrc', prose), 'NOASSERTION');
  assert.equal(licenseFromCopyright(prose), 'NOASSERTION');
});
