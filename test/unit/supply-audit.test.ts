import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Component } from '../../src/image/components.js';
import { auditComponents, findingsAtOrAbove } from '../../src/supply/audit.js';
import { cvss3BaseScore, severityOfScore } from '../../src/supply/cvss.js';
import { advisorySeverity, isAffected, loadAdvisories, type OsvAffected } from '../../src/supply/osv.js';
import { compareDebianVersions, compareSemver } from '../../src/supply/versions.js';
import { lockComponents } from '../../src/supply/lockfile.js';
import { tempDir } from '../helpers.js';

test('CVSS v3 base scores match the specification examples', () => {
  const cases: [string, number][] = [
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10.0],
    ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1],
    ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N', 5.9],
    ['CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N', 6.4],
    ['CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N', 1.6],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0],
  ];
  for (const [vector, score] of cases) assert.equal(cvss3BaseScore(vector), score, vector);
  for (const bad of ['CVSS:2.0/AV:N', 'CVSS:3.1/AV:N/AC:L', 'CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H']) assert.equal(cvss3BaseScore(bad), undefined, bad);
  assert.equal(severityOfScore(9.8), 'critical');
  assert.equal(severityOfScore(7.0), 'high');
  assert.equal(severityOfScore(6.9), 'medium');
  assert.equal(severityOfScore(0.1), 'low');
});

test('OSV ranges: introduced/fixed/last_affected/limit and explicit versions, in Debian order', () => {
  const affected = (events: Record<string, string>[], versions?: string[]): OsvAffected => ({ package: { ecosystem: 'Debian:12', name: 'glibc' }, ranges: [{ type: 'ECOSYSTEM', events }], ...(versions ? { versions } : {}) });
  const range = affected([{ introduced: '0' }, { fixed: '2.36-9+deb12u4' }]);
  assert.equal(isAffected(range, '2.36-9+deb12u3', compareDebianVersions), true);
  assert.equal(isAffected(range, '2.36-9+deb12u4', compareDebianVersions), false);
  assert.equal(isAffected(range, '2.36-9+deb12u14', compareDebianVersions), false, 'u14 > u4 in Debian order, not in text order');
  assert.equal(isAffected(range, '1:2.0', compareDebianVersions), false, 'an epoch beats any upstream');
  const window = affected([{ introduced: '2.30' }, { last_affected: '2.36-9' }]);
  assert.equal(isAffected(window, '2.29', compareDebianVersions), false);
  assert.equal(isAffected(window, '2.36-9', compareDebianVersions), true);
  assert.equal(isAffected(window, '2.36-9+deb12u1', compareDebianVersions), false);
  const two = affected([{ introduced: '1.0' }, { fixed: '1.5' }, { introduced: '2.0' }, { fixed: '2.3~rc1' }]);
  assert.deepEqual(['0.9', '1.2', '1.5', '2.1', '2.3~beta', '2.3~rc1', '2.3'].map((v) => isAffected(two, v, compareDebianVersions)), [false, true, false, true, true, false, false]);
  assert.equal(isAffected(affected([], ['2.36-1']), '2.36-1', compareDebianVersions), true);
  const semverRange: OsvAffected = { package: { ecosystem: 'kiln', name: 'sqlite' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '3.0.0' }, { fixed: '3.10.2' }] }] };
  assert.equal(isAffected(semverRange, '3.9.0', compareSemver), true, '3.9.0 < 3.10.2 in semver');
  assert.equal(isAffected(semverRange, '3.52.0', compareSemver), false);
});

test('severity: CVSS vectors are scored, labels mapped, the highest wins', () => {
  assert.deepEqual(advisorySeverity({ id: 'A', severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] }), { severity: 'critical', score: 9.8 });
  assert.deepEqual(advisorySeverity({ id: 'B', database_specific: { severity: 'MODERATE' } }), { severity: 'medium' });
  assert.deepEqual(advisorySeverity({ id: 'C' }), { severity: 'unknown' });
});

const components: Component[] = [
  { id: 'debian:libc6', kind: 'debian-package', name: 'libc6', version: '2.36-9+deb12u14', license: 'LGPL-2.1-or-later', debian: { package: 'libc6', version: '2.36-9+deb12u14', architecture: 'amd64', source: { package: 'glibc', version: '2.36-9+deb12u14' } }, files: ['/usr/lib/x86_64-linux-gnu/libc.so.6'], dependsOn: [] },
  { id: 'kiln:sqlite', kind: 'kiln-package', name: 'sqlite', version: '3.52.0', license: 'blessing', files: [], dependsOn: [] },
  { id: 'shim', kind: 'shim', name: 'kiln-init', version: '0.1.0', license: 'Apache-2.0', files: ['/kiln/init'], dependsOn: [] },
];

async function database(dir: string): Promise<void> {
  await mkdir(join(dir, 'debian'), { recursive: true });
  await writeFile(join(dir, 'debian', 'DSA-1.json'), JSON.stringify({ id: 'DSA-1', summary: 'glibc bug', affected: [{ package: { ecosystem: 'Debian:12', name: 'glibc' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.36-9+deb12u20' }] }] }], severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H' }] }));
  // Fixed below the installed version: not a finding. Names the binary package: not a finding either.
  await writeFile(join(dir, 'debian', 'DSA-2.json'), JSON.stringify([
    { id: 'DSA-2', affected: [{ package: { ecosystem: 'Debian:12', name: 'glibc' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.36-9+deb12u4' }] }] }] },
    { id: 'DSA-3', affected: [{ package: { ecosystem: 'Debian:12', name: 'libc6' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }] }] },
    { id: 'DSA-11', affected: [{ package: { ecosystem: 'Debian:11', name: 'glibc' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }] }] },
  ]));
  await writeFile(join(dir, 'KILN-1.json'), JSON.stringify({ id: 'KILN-1', database_specific: { severity: 'LOW' }, affected: [{ package: { ecosystem: 'kiln', name: 'sqlite' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '3.50.0' }, { fixed: '3.52.1' }] }] }] }));
  await writeFile(join(dir, 'broken.json'), '{"id": "X", "affected": [');
  await writeFile(join(dir, 'not-osv.json'), JSON.stringify({ id: 5, affected: 'glibc' }));
  await writeFile(join(dir, 'pypi.json'), JSON.stringify({ id: 'PYSEC-1', affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, versions: ['2.0'] }] }));
  await writeFile(join(dir, 'withdrawn.json'), JSON.stringify({ id: 'DSA-0', withdrawn: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'Debian:12', name: 'glibc' }, versions: ['2.36-9+deb12u14'] }] }));
}

test('audit: matches source packages per release and kiln packages; reports bad files and unknown ecosystems', async () => {
  const dir = await tempDir();
  await database(dir);
  const db = await loadAdvisories(dir);
  assert.deepEqual(db.problems.map((p) => p.file).sort(), ['broken.json', 'not-osv.json']);
  assert.match(db.problems.find((p) => p.file === 'broken.json')!.message, /not JSON/);
  assert.deepEqual(db.unknownEcosystems, { PyPI: 1 });
  assert.equal(db.withdrawn, 1);
  const report = auditComponents(components, db, '12');
  assert.deepEqual(report.findings.map((f) => `${f.advisory}:${f.component}:${f.severity}`), ['DSA-1:debian:libc6:high', 'KILN-1:kiln:sqlite:low']);
  assert.equal(report.findings[0]!.fixed, '2.36-9+deb12u20');
  assert.equal(report.findings[0]!.score, 7.8);
  assert.deepEqual(report.notAudited, ['shim']);
  assert.deepEqual(findingsAtOrAbove(report, 'high').map((f) => f.advisory), ['DSA-1']);
  assert.deepEqual(findingsAtOrAbove(report, 'critical'), []);
  // Without a known release, "Debian:11" entries match too.
  assert.ok(auditComponents(components, db).findings.some((f) => f.advisory === 'DSA-11'));
});

test('audit: a database over HTTP (one JSON document), and a missing database', async () => {
  const body = JSON.stringify([{ id: 'DSA-9', affected: [{ package: { ecosystem: 'Debian', name: 'glibc' }, versions: ['2.36-9+deb12u14'] }] }]);
  const server = createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const db = await loadAdvisories(`http://127.0.0.1:${(server.address() as AddressInfo).port}/all.json`);
    assert.deepEqual(auditComponents(components, db, '12').findings.map((f) => f.advisory), ['DSA-9']);
  } finally {
    server.close();
  }
  await assert.rejects(loadAdvisories('/nonexistent/advisories'), { code: 'KILN_ADVISORY_DB_INVALID' });
});

test('a kiln.lock gives kiln and Debian (source) components', async () => {
  const dir = await tempDir();
  await writeFile(
    join(dir, 'kiln.lock'),
    JSON.stringify({ version: 1, root: { name: 'app', version: '1.0.0' }, packages: [{ name: 'redis', version: '7.0.15', source: 'catalogue', recipeSha256: 'x', sources: [], dependencies: [], buildDependencies: [], debian: { package: 'redis-server', version: '5:7.0.15-1~deb12u1', architecture: 'amd64', closure: [{ package: 'libc6', version: '2.36-9+deb12u14', architecture: 'amd64', sha256: 'x', size: 1, filename: 'x', source: { package: 'glibc', version: '2.36-9+deb12u14' } }] } }] }),
  );
  const locked = await lockComponents(dir);
  assert.deepEqual(locked.map((c) => c.id), ['debian:libc6', 'kiln:redis']);
  assert.deepEqual(locked[0]!.debian!.source, { package: 'glibc', version: '2.36-9+deb12u14' });
});
