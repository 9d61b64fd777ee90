import { KilnError, ErrorCodes } from '../errors.js';
import type { Component } from '../image/components.js';
import type { ImageManifest } from '../image/manifest.js';
import { canonicalJson, sha256 } from '../util/fs.js';
import { KILN_VERSION } from '../version.js';
import { checkLicense, NOASSERTION } from './licenses.js';

/**
 * SBOMs of an image, from its manifest alone: CycloneDX 1.5 JSON and SPDX 2.3 JSON. Both are
 * deterministic: identifiers derive from the image's identity (the hash of its manifest), and
 * the creation time is SOURCE_DATE_EPOCH when given, else a fixed instant.
 */

export type SbomFormat = 'cyclonedx' | 'spdx';
export const IMAGE_SBOM_FILE = 'sbom.cdx.json';
/** The fixed creation time of SBOMs made without SOURCE_DATE_EPOCH (SPDX requires one). */
const FIXED_TIME = '1970-01-01T00:00:00Z';

/** The image's identity: the hash of its manifest without the facts known only after writing it. */
export function imageIdentity(manifest: Omit<ImageManifest, 'initrd'> & Partial<Pick<ImageManifest, 'initrd'>>): string {
  const { initrd: _initrd, artifacts: _artifacts, sbom: _sbom, ...planned } = manifest;
  return sha256(canonicalJson(planned));
}

export function creationTime(env: NodeJS.ProcessEnv = {}): string {
  const epoch = env['SOURCE_DATE_EPOCH'];
  if (epoch && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return FIXED_TIME;
}

export function requireComponents(manifest: Pick<ImageManifest, 'components'>, dir: string): Component[] {
  if (!manifest.components) {
    throw new KilnError(ErrorCodes.IMAGE_NO_INVENTORY, `${dir} was baked before kiln recorded its components`, { hint: 'bake it again with this version of kiln' });
  }
  return manifest.components;
}

/** pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12, or pkg:generic for the rest. */
export function purlOf(component: Component, distro?: ImageManifest['distro']): string | undefined {
  const version = component.debian?.version ?? component.version;
  const at = version ? `@${encodeURIComponent(version)}` : '';
  if (component.debian) {
    const qualifiers = [
      ...(component.debian.architecture ? [`arch=${encodeURIComponent(component.debian.architecture)}`] : []),
      ...(distro?.versionId ? [`distro=${encodeURIComponent(`${distro.id}-${distro.versionId}`)}`] : []),
    ];
    return `pkg:deb/debian/${encodeURIComponent(component.debian.package)}${at}${qualifiers.length > 0 ? `?${qualifiers.join('&')}` : ''}`;
  }
  if (component.kind === 'kiln-package') return `pkg:generic/kiln/${encodeURIComponent(component.name)}${at}`;
  if (component.kind === 'shim') return `pkg:generic/kiln/kiln-init${at}`;
  return undefined;
}

const CDX_TYPES: Record<Component['kind'], string> = {
  kernel: 'operating-system',
  shim: 'application',
  app: 'application',
  'kiln-package': 'library',
  'debian-package': 'library',
  data: 'file',
};

export interface SbomOptions {
  /** ISO time for the document; default creationTime(). */
  created?: string;
}

export function cycloneDx(manifest: ImageManifest | Omit<ImageManifest, 'initrd'>, dir: string, options: SbomOptions = {}): Record<string, unknown> {
  const components = requireComponents(manifest, dir);
  const identity = imageIdentity(manifest);
  const appName = components.find((component) => component.kind === 'app')?.name ?? 'app';
  const roots = components.filter((component) => !components.some((other) => other.dependsOn.includes(component.id))).map((component) => component.id);
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${uuidFrom(identity)}`,
    version: 1,
    metadata: {
      ...(options.created ? { timestamp: options.created } : {}),
      tools: { components: [{ type: 'application', name: 'kiln', version: KILN_VERSION }] },
      component: {
        type: 'operating-system',
        'bom-ref': 'image',
        name: `${appName} image`,
        version: identity.slice(0, 12),
        properties: [
          // Not a file hash: the sha256 of the image's manifest, which lists every file by hash.
          { name: 'kiln:image-identity', value: `sha256:${identity}` },
          { name: 'kiln:target', value: manifest.target },
          { name: 'kiln:arch', value: manifest.arch },
        ],
      },
    },
    components: components.map((component) => {
      const purl = purlOf(component, manifest.distro);
      const license = component.license && component.license !== NOASSERTION && checkLicense(component.license).valid ? component.license : undefined;
      return {
        type: CDX_TYPES[component.kind],
        'bom-ref': component.id,
        name: component.name,
        ...(component.version ? { version: component.version } : {}),
        ...(purl ? { purl } : {}),
        ...(component.sha256 ? { hashes: [{ alg: 'SHA-256', content: component.sha256 }] } : {}),
        ...(license ? { licenses: [{ expression: license }] } : {}),
        properties: [
          ...(component.debian ? [{ name: 'kiln:debian:source', value: `${component.debian.source.package} ${component.debian.source.version}` }] : []),
          ...component.files.map((file) => ({ name: 'kiln:file', value: file })),
        ],
      };
    }),
    dependencies: [{ ref: 'image', dependsOn: roots }, ...components.map((component) => ({ ref: component.id, dependsOn: component.dependsOn }))],
  };
}

export function spdx(manifest: ImageManifest | Omit<ImageManifest, 'initrd'>, dir: string, options: SbomOptions = {}): Record<string, unknown> {
  const components = requireComponents(manifest, dir);
  const identity = imageIdentity(manifest);
  const appName = components.find((component) => component.kind === 'app')?.name ?? 'app';
  const ids = spdxIds(components);
  const refs = new Set<string>();
  const packages = components.map((component) => {
    const license = component.license && checkLicense(component.license).valid ? component.license : NOASSERTION;
    for (const id of checkLicense(license).valid ? (checkLicense(license) as { ids: string[] }).ids : []) if (id.startsWith('LicenseRef-')) refs.add(id);
    const purl = purlOf(component, manifest.distro);
    return {
      SPDXID: ids.get(component.id)!,
      name: component.name,
      ...(component.version ? { versionInfo: component.version } : {}),
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      ...(component.sha256 ? { checksums: [{ algorithm: 'SHA256', checksumValue: component.sha256 }] } : {}),
      licenseConcluded: license,
      licenseDeclared: license,
      copyrightText: NOASSERTION,
      ...(component.debian ? { sourceInfo: `built from the Debian source package ${component.debian.source.package} ${component.debian.source.version}` } : {}),
      ...(purl ? { externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl }] } : {}),
      ...(component.files.length > 0 ? { comment: `image files: ${component.files.join(' ')}` } : {}),
      primaryPackagePurpose: component.kind === 'app' || component.kind === 'shim' ? 'APPLICATION' : component.kind === 'kernel' ? 'OPERATING_SYSTEM' : component.kind === 'data' ? 'FILE' : 'LIBRARY',
    };
  });
  const image = {
    SPDXID: 'SPDXRef-Image',
    name: `${appName} image`,
    versionInfo: identity.slice(0, 12),
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    comment: `image identity: sha256 of its manifest (which lists every file by hash): ${identity}`,
    licenseConcluded: NOASSERTION,
    licenseDeclared: NOASSERTION,
    copyrightText: NOASSERTION,
    primaryPackagePurpose: 'OPERATING_SYSTEM',
  };
  const relationships = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-Image' },
    ...components.map((component) => ({ spdxElementId: 'SPDXRef-Image', relationshipType: 'CONTAINS', relatedSpdxElement: ids.get(component.id)! })),
    ...components.flatMap((component) => component.dependsOn.filter((dep) => ids.has(dep)).map((dep) => ({ spdxElementId: ids.get(component.id)!, relationshipType: 'DEPENDS_ON', relatedSpdxElement: ids.get(dep)! }))),
  ];
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${appName} image ${identity.slice(0, 12)}`,
    // A URN, not a web address: unique per image, and the same for every SBOM of that image.
    documentNamespace: `urn:kiln:image:sha256:${identity}`,
    creationInfo: { created: options.created ?? FIXED_TIME, creators: [`Tool: kiln-${KILN_VERSION}`] },
    packages: [image, ...packages],
    relationships,
    ...(refs.size > 0
      ? { hasExtractedLicensingInfos: [...refs].sort().map((id) => ({ licenseId: id, extractedText: `See the copyright file of the package (${id}).` })) }
      : {}),
  };
}

/** SPDXRef-<id> with the characters SPDX allows, unique. */
function spdxIds(components: Component[]): Map<string, string> {
  const ids = new Map<string, string>();
  const used = new Set<string>(['SPDXRef-Image', 'SPDXRef-DOCUMENT']);
  for (const component of components) {
    const base = `SPDXRef-${component.id.replace(/[^A-Za-z0-9.-]/g, '-')}`;
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    ids.set(component.id, id);
  }
  return ids;
}

/** A version-4-shaped UUID from a hash, so the same image always gets the same serial number. */
function uuidFrom(hash: string): string {
  const hex = hash.slice(0, 32).split('');
  hex[12] = '4';
  hex[16] = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

/** The SBOM a bake writes beside image.json: CycloneDX, no timestamp, a pure function of the manifest. */
export function imageSbom(manifest: Omit<ImageManifest, 'initrd'>): { file: string; format: 'cyclonedx-1.5'; text: string } {
  return { file: IMAGE_SBOM_FILE, format: 'cyclonedx-1.5', text: JSON.stringify(cycloneDx(manifest, '(bake)'), null, 2) + '\n' };
}
