import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageManifest } from '../../src/image/manifest.js';
import { cycloneDxValidator, spdxValidator } from '../supply-schemas.js';
import { cycloneDx, imageIdentity, imageSbom, purlOf, spdx, creationTime } from '../../src/supply/sbom.js';

/**
 * SBOMs validated against the published JSON schemas: CycloneDX 1.5 from the
 * @cyclonedx/cyclonedx-library package, SPDX 2.3 vendored in src/supply/schemas.
 */

const sha = (c: string) => c.repeat(64);

const syntheticManifest: ImageManifest = {
  format: 1,
  target: 'qemu',
  arch: 'x86_64',
  cmdline: 'console=ttyS0',
  kernel: { file: 'kernel', sha256: sha('a'), release: '6.1.0-56-cloud-amd64', initSize: 1, source: { kind: 'debian', package: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2', sha256: sha('b') } },
  initrd: { file: 'initramfs.cpio', sha256: sha('c'), size: 1 },
  app: { guestPath: '/usr/bin/ls', args: [], env: {}, linkage: 'dynamic', sha256: sha('d') },
  componentSets: ['virtio-net'],
  modules: [],
  shim: { sha256: sha('e'), compiler: 'gcc' },
  memory: { minimumMiB: 72, defaultMiB: 128 },
  files: [],
  kiln: { version: '0.1.0' },
  distro: { id: 'debian', versionId: '12', codename: 'bookworm' },
  components: [
    { id: 'app', kind: 'app', name: 'ls', version: '9.1-1', license: 'GPL-3.0-or-later', files: ['/usr/bin/ls'], dependsOn: ['debian:libc6', 'debian:libselinux1'], sha256: sha('d'), debian: { package: 'coreutils', version: '9.1-1', architecture: 'amd64', source: { package: 'coreutils', version: '9.1-1' } } },
    { id: 'data', kind: 'data', name: 'data files', license: 'NOASSERTION', files: ['/etc/app.conf'], dependsOn: [] },
    { id: 'debian:libc6', kind: 'debian-package', name: 'libc6', version: '2.36-9+deb12u14', license: 'LGPL-2.1-or-later', files: ['/usr/lib/x86_64-linux-gnu/libc.so.6'], dependsOn: [], debian: { package: 'libc6', version: '2.36-9+deb12u14', architecture: 'amd64', source: { package: 'glibc', version: '2.36-9+deb12u14' } } },
    { id: 'debian:libselinux1', kind: 'debian-package', name: 'libselinux1', version: '3.4-1+b6', license: 'LicenseRef-public-domain', files: [], dependsOn: ['debian:libc6'], debian: { package: 'libselinux1', version: '3.4-1+b6', architecture: 'amd64', source: { package: 'libselinux', version: '3.4-1' } } },
    { id: 'debian:musl-dev', kind: 'debian-package', name: 'musl-dev', version: '1.2.3-1', license: 'MIT', files: [], dependsOn: [], debian: { package: 'musl-dev', version: '1.2.3-1', architecture: 'amd64', source: { package: 'musl', version: '1.2.3-1' } } },
    { id: 'kernel', kind: 'kernel', name: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2', license: 'GPL-2.0-only', files: ['/usr/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/net/virtio_net.ko'], dependsOn: [], sha256: sha('b'), debian: { package: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2', architecture: 'amd64', source: { package: 'linux', version: '6.1.192-2' } } },
    { id: 'kiln:sqlite', kind: 'kiln-package', name: 'sqlite', version: '3.52.0', license: 'blessing', files: [], dependsOn: [] },
    { id: 'shim', kind: 'shim', name: 'kiln-init', version: '0.1.0', license: 'Apache-2.0', files: ['/kiln/init'], dependsOn: ['debian:musl-dev'], sha256: sha('e') },
  ],
};

test('CycloneDX 1.5: valid against the published schema, with purls, hashes, licenses and edges', () => {
  const validate = cycloneDxValidator();
  const bom = cycloneDx(syntheticManifest, 'img', { created: '2026-11-27T00:00:00Z' }) as { components: { purl?: string; 'bom-ref': string; licenses?: unknown }[]; dependencies: { ref: string; dependsOn: string[] }[] };
  assert.ok(validate(bom), JSON.stringify(validate.errors?.slice(0, 5), null, 2));
  assert.equal(validate({ ...bom, specVersion: 1.5 }), false, 'the schema is not a rubber stamp');
  assert.equal(bom.components.find((c) => c['bom-ref'] === 'debian:libc6')!.purl, 'pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12');
  assert.deepEqual(bom.dependencies.find((d) => d.ref === 'app')!.dependsOn, ['debian:libc6', 'debian:libselinux1']);
  assert.deepEqual(bom.dependencies.find((d) => d.ref === 'image')!.dependsOn, ['app', 'data', 'kernel', 'kiln:sqlite', 'shim']);
  assert.equal(bom.components.find((c) => c['bom-ref'] === 'data')!.licenses, undefined, 'NOASSERTION is left out, not invented');
  // The SBOM a bake writes has no timestamp: a pure function of the manifest.
  const { initrd: _initrd, ...planned } = syntheticManifest;
  assert.equal(imageSbom(planned).text, imageSbom(planned).text);
  assert.ok(validate(JSON.parse(imageSbom(planned).text)));
});

test('SPDX 2.3: valid against the vendored schema, deterministic, with DEPENDS_ON and CONTAINS', () => {
  const validate = spdxValidator();
  const doc = spdx(syntheticManifest, 'img', { created: creationTime({ SOURCE_DATE_EPOCH: '1700000000' }) }) as {
    documentNamespace: string;
    creationInfo: { created: string };
    relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
    hasExtractedLicensingInfos?: { licenseId: string }[];
  };
  assert.ok(validate(doc), JSON.stringify(validate.errors?.slice(0, 5), null, 2));
  assert.equal(doc.creationInfo.created, '2023-11-14T22:13:20Z');
  assert.equal(doc.documentNamespace, `urn:kiln:image:sha256:${imageIdentity(syntheticManifest)}`);
  assert.ok(doc.relationships.some((r) => r.spdxElementId === 'SPDXRef-app' && r.relationshipType === 'DEPENDS_ON' && r.relatedSpdxElement === 'SPDXRef-debian-libc6'));
  assert.equal(doc.relationships.filter((r) => r.relationshipType === 'CONTAINS').length, syntheticManifest.components!.length);
  assert.deepEqual(doc.hasExtractedLicensingInfos?.map((i) => i.licenseId), ['LicenseRef-public-domain']);
  assert.deepEqual(spdx(syntheticManifest, 'img'), spdx(syntheticManifest, 'img'), 'same image, same document');
  // The schema is not a rubber stamp.
  assert.equal(validate({ ...doc, spdxVersion: undefined }), false);
});

test('purls: epochs and pluses are percent-encoded; kiln packages are generic', () => {
  const c = syntheticManifest.components!;
  assert.equal(purlOf({ ...c[2]!, debian: { ...c[2]!.debian!, version: '1:2.0+dfsg-1' } }, syntheticManifest.distro), 'pkg:deb/debian/libc6@1%3A2.0%2Bdfsg-1?arch=amd64&distro=debian-12');
  assert.equal(purlOf(c[6]!), 'pkg:generic/kiln/sqlite@3.52.0');
  assert.equal(purlOf(c[1]!), undefined);
});
