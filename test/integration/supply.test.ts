import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import type { Component } from '../../src/image/components.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { run } from '../../src/util/exec.js';
import { sha256 } from '../../src/util/fs.js';
import { tempDir, testContext, runKiln, type CliRun } from '../helpers.js';
import { cycloneDxValidator, spdxValidator } from '../supply-schemas.js';

/**
 * The supply chain on a real image: a dynamically linked C program (the host's glibc) is baked
 * once; its components, licenses, SBOMs and audits are then checked through the real `kiln`
 * CLI, offline, from the image directory alone. No boot is needed.
 */


function kiln(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runKiln(args, { env });
}

const { ctx } = testContext();
let work: string;
let app: string;
let image: string;
let components: Component[];
let glibcVersion: string;

/** One OSV record for Debian 12's glibc, affected from the beginning up to `fixed`. */
function glibcAdvisory(id: string, fixed: string): string {
  return JSON.stringify({
    id,
    summary: `fabricated glibc advisory fixed in ${fixed}`,
    affected: [{ package: { ecosystem: 'Debian:12', name: 'glibc' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }] }],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
  });
}

before(async () => {
  work = await tempDir();
  app = join(work, 'hello-dyn');
  // Linked dynamically against the host's glibc (libc6), unlike the static musl examples.
  await run('gcc', ['-O1', '-o', app, 'examples/hello/hello.c']);
  image = (await bake(ctx, { appPath: app, target: qemuTarget, supply: { app: { version: '1.0.0', license: 'MIT' } } }, join(work, 'hello.img'))).dir;
  const manifest = JSON.parse(await readFile(join(image, 'image.json'), 'utf8')) as { components: Component[] };
  components = manifest.components;
  glibcVersion = components.find((c) => c.id === 'debian:libc6')!.debian!.source.version;
});

test('bake records every component: kernel, shim and musl, the app, libc6 from glibc; the manifest pins the SBOM', async () => {
  const byId = new Map(components.map((c) => [c.id, c]));
  const kernel = byId.get('kernel')!;
  assert.equal(kernel.license, 'GPL-2.0-only');
  assert.equal(kernel.debian?.source.package, 'linux');
  assert.match(kernel.name, /^linux-image-.*-cloud-amd64$/);
  assert.ok(kernel.files.some((file) => file.endsWith('virtio_net.ko')), 'the module set is listed with the kernel');
  assert.deepEqual([byId.get('shim')!.license, byId.get('shim')!.dependsOn], ['Apache-2.0', ['debian:musl-dev']]);
  assert.equal(byId.get('debian:musl-dev')!.license, 'MIT');
  const appComponent = byId.get('app')!;
  assert.deepEqual([appComponent.name, appComponent.version, appComponent.license], ['hello-dyn', '1.0.0', 'MIT']);
  assert.ok(appComponent.dependsOn.includes('debian:libc6'));
  const libc = byId.get('debian:libc6')!;
  assert.equal(libc.debian?.source.package, 'glibc');
  assert.equal(libc.license, 'LGPL-2.1-or-later');
  assert.ok(libc.files.some((file) => file.endsWith('/libc.so.6')) && libc.files.some((file) => file.includes('ld-linux-x86-64')), libc.files.join(' '));
  const dpkg = await run('dpkg-query', ['-W', '-f=${Version}', 'libc6']);
  assert.equal(libc.version, dpkg.stdout);
  const manifest = JSON.parse(await readFile(join(image, 'image.json'), 'utf8')) as { sbom: { file: string; sha256: string }; distro: { versionId: string } };
  assert.equal(sha256(await readFile(join(image, manifest.sbom.file))), manifest.sbom.sha256);
  assert.equal(manifest.distro.versionId, '12');
});

test('the inventory is part of the image identity: the same inputs bake to the same cached image', async () => {
  const again = await bake(ctx, { appPath: app, target: qemuTarget, supply: { app: { version: '1.0.0', license: 'MIT' } } });
  assert.equal(again.cached, true);
  const other = await bake(ctx, { appPath: app, target: qemuTarget, supply: { app: { version: '1.0.1', license: 'MIT' } } });
  assert.notEqual(other.key, again.key, 'a different app version is a different image');
});

test('kiln audit: an advisory covering the installed glibc is found (exit 1); one fixed below it is not (exit 0)', async () => {
  const vulnerable = join(work, 'db-vulnerable');
  const fixed = join(work, 'db-fixed');
  await mkdir(vulnerable);
  await mkdir(fixed);
  await writeFile(join(vulnerable, 'DSA-TEST-1.json'), glibcAdvisory('DSA-TEST-1', `${glibcVersion}+kiln1`));
  await writeFile(join(vulnerable, 'broken.json'), '{ not json');
  await writeFile(join(vulnerable, 'go.json'), JSON.stringify({ id: 'GO-1', affected: [{ package: { ecosystem: 'Go', name: 'x' }, versions: ['1'] }] }));
  await writeFile(join(fixed, 'DSA-TEST-2.json'), glibcAdvisory('DSA-TEST-2', '2.36-1'));
  const found = await kiln(['audit', image, '--db', vulnerable]);
  assert.equal(found.code, 1, found.stderr);
  assert.match(found.stdout, new RegExp(`DSA-TEST-1  critical 9\\.8  debian:libc6  Debian glibc ${glibcVersion.replace(/[+.]/g, '\\$&')}  fixed in `));
  assert.match(found.stderr, /broken\.json: not JSON/);
  assert.match(found.stderr, /ecosystems kiln does not audit: Go \(1\)/);
  const json = JSON.parse((await kiln(['--json', 'audit', image, '--db', vulnerable])).stdout) as { failing: unknown[]; problems: unknown[] };
  assert.equal(json.failing.length, 1);
  assert.equal(json.problems.length, 1);
  const clean = await kiln(['audit', image, '--db', fixed]);
  assert.equal(clean.code, 0, clean.stderr + clean.stdout);
  assert.equal(clean.stdout, '');
  // A critical finding fails even the highest threshold.
  assert.equal((await kiln(['audit', image, '--db', vulnerable, '--severity', 'critical'])).code, 1);
});

test('kiln bake --audit refuses vulnerable inputs; a license policy refuses denied licenses', async () => {
  const db = join(work, 'db-bake');
  await mkdir(db);
  await writeFile(join(db, 'DSA-TEST-3.json'), glibcAdvisory('DSA-TEST-3', `${glibcVersion}+kiln1`));
  const refused = await kiln(['bake', app, '-o', join(work, 'refused.img'), '--audit', '--advisories', db]);
  assert.equal(refused.code, 125);
  assert.match(refused.stderr, /KILN_AUDIT_FINDINGS/);
  assert.match(refused.stderr, /DSA-TEST-3 \(critical 9\.8\): debian:libc6/);
  const policy = join(work, 'policy.toml');
  await writeFile(policy, '[licenses]\ndeny = ["GPL-2.0-only"]\n');
  const denied = await kiln(['bake', app, '-o', join(work, 'denied.img'), '--license-policy', policy]);
  assert.equal(denied.code, 125);
  assert.match(denied.stderr, /KILN_LICENSE_DENIED/);
  assert.match(denied.stderr, /kernel \(linux-image-.*\): GPL-2\.0-only/);
  const unknown = await kiln(['bake', app, '-o', join(work, 'unknown.img'), '--app-license', 'GPLv2']);
  assert.match(unknown.stderr, /KILN_LICENSE_UNKNOWN/);
});

test('kiln sbom writes CycloneDX 1.5 and SPDX 2.3 that validate against the published schemas', async () => {
  const cdxFile = join(work, 'sbom.cdx.json');
  assert.equal((await kiln(['sbom', image, '--format', 'cyclonedx', '-o', cdxFile])).code, 0);
  const validateCdx = cycloneDxValidator();
  const bom = JSON.parse(await readFile(cdxFile, 'utf8')) as { components: { purl?: string }[] };
  assert.ok(validateCdx(bom), JSON.stringify(validateCdx.errors?.slice(0, 5)));
  assert.ok(bom.components.some((c) => c.purl?.startsWith('pkg:deb/debian/libc6@') && c.purl.endsWith('?arch=amd64&distro=debian-12')));
  // `kiln sbom` and the SBOM the bake wrote name the same image (the serial number derives from its identity).
  const again = JSON.parse((await kiln(['sbom', image], { SOURCE_DATE_EPOCH: '' })).stdout) as { serialNumber: string };
  assert.equal(again.serialNumber, (JSON.parse(await readFile(join(image, 'sbom.cdx.json'), 'utf8')) as { serialNumber: string }).serialNumber);
  const first = await kiln(['sbom', image, '--format', 'spdx'], { SOURCE_DATE_EPOCH: '1700000000' });
  const second = await kiln(['sbom', image, '--format', 'spdx'], { SOURCE_DATE_EPOCH: '1700000000' });
  assert.equal(first.stdout, second.stdout, 'reproducible');
  const validateSpdx = spdxValidator();
  assert.ok(validateSpdx(JSON.parse(first.stdout)), JSON.stringify(validateSpdx.errors?.slice(0, 5)));
  assert.match(first.stdout, /"created": "2023-11-14T22:13:20Z"/);
});

test('kiln licenses lists every component; --bundle writes texts, copyright files and a source offer', async () => {
  const listed = await kiln(['licenses', image]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^kernel\s+linux-image-\S+ \S+\s+GPL-2\.0-only  \(copyleft\)$/m);
  assert.match(listed.stdout, /^shim\s+kiln-init \S+\s+Apache-2\.0$/m);
  const bundle = join(work, 'bundle');
  assert.equal((await kiln(['licenses', image, '--bundle', bundle])).code, 0);
  for (const text of ['GPL-2.0-only', 'LGPL-2.1-or-later', 'Apache-2.0', 'MIT']) assert.match(await readFile(join(bundle, 'licenses', `${text}.txt`), 'utf8'), /\S/);
  assert.match(await readFile(join(bundle, 'copyright', 'libc6'), 'utf8'), /GNU C Library/);
  const offer = await readFile(join(bundle, 'SOURCE-OFFER.txt'), 'utf8');
  assert.match(offer, new RegExp(`apt-get source glibc=${glibcVersion.replace(/[+.]/g, '\\$&')}`));
  assert.match(offer, /apt-get source linux=/);
  assert.doesNotMatch(offer, /kiln-init/);
});

test('bad images: no manifest, a manifest without components, an SBOM changed after bake', async () => {
  const empty = join(work, 'empty');
  await mkdir(empty);
  const none = await kiln(['licenses', empty]);
  assert.match(none.stderr, /KILN_IMAGE_NOT_FOUND/);
  const old = join(work, 'old.img');
  await cp(image, old, { recursive: true });
  const manifest = JSON.parse(await readFile(join(old, 'image.json'), 'utf8')) as Record<string, unknown>;
  delete manifest['components'];
  delete manifest['sbom'];
  await writeFile(join(old, 'image.json'), JSON.stringify(manifest));
  assert.match((await kiln(['sbom', old])).stderr, /KILN_IMAGE_NO_INVENTORY/);
  const tampered = join(work, 'tampered.img');
  await cp(image, tampered, { recursive: true });
  await writeFile(join(tampered, 'sbom.cdx.json'), '{}');
  const result = await kiln(['audit', tampered, '--db', join(work, 'db-fixed')]);
  assert.equal(result.code, 125);
  assert.match(result.stderr, /KILN_IMAGE_NO_INVENTORY.*does not match/);
});
