import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { KilnError, ErrorCodes } from '../errors.js';
import type { LoadedImage } from '../image/manifest.js';
import { formatReference, type Reference } from '../oci/reference.js';

/**
 * A KubeVirt VirtualMachine that boots a disk-target image pushed as a containerDisk
 * (`kiln push app.disk REF --containerdisk`): UEFI without Secure Boot (the disk has only an
 * EFI system partition), the disk on virtio, one masquerade interface on the pod network (the
 * image's default config asks DHCP on eth0, which KubeVirt answers), and the image's default
 * memory. Pure; checked against KubeVirt's published schema before it is returned.
 */
export interface KubevirtOptions {
  /** The containerDisk image, best by digest so the VM boots exactly what was pushed. */
  image: Reference;
  name?: string;
  memoryMiB?: number;
  cpus?: number;
}

const SCHEMA = JSON.parse(readFileSync(new URL('./schemas/kubevirt-virtualmachine.schema.json', import.meta.url), 'utf8')) as object;
let validate: ReturnType<Ajv['compile']> | undefined;

function schemaErrors(document: unknown): string[] {
  if (!validate) {
    const ajv = new Ajv({ strict: false, allErrors: true });
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    validate = ajv.compile(SCHEMA);
  }
  return validate(document) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || '(document)'}: ${error.message ?? 'invalid'}${error.params && 'additionalProperty' in error.params ? ` (${String(error.params.additionalProperty)})` : ''}`);
}

/** A DNS-1123 name for the VM from the app's name. */
export function vmName(image: LoadedImage): string {
  const base = (image.manifest.app.guestPath.split('/').pop() ?? 'kiln').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return (base || 'kiln').slice(0, 63);
}

export function kubevirtVirtualMachine(image: LoadedImage, options: KubevirtOptions): Record<string, unknown> {
  if (image.manifest.target !== 'disk') {
    throw new KilnError(ErrorCodes.TARGET_CANNOT_CARRY, `a KubeVirt containerDisk boots a disk-target image; this one is for ${image.manifest.target}`, { hint: 'bake with --target disk, push with --containerdisk, then export --kubevirt' });
  }
  const name = options.name ?? vmName(image);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) throw new KilnError(ErrorCodes.USAGE, `--name ${name} is not a Kubernetes name (lower-case letters, digits and -, at most 63)`);
  const memory = options.memoryMiB ?? image.manifest.memory.defaultMiB;
  const document = {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'kiln' } },
    spec: {
      runStrategy: 'Always',
      template: {
        metadata: { labels: { 'kubevirt.io/vm': name } },
        spec: {
          domain: {
            cpu: { cores: options.cpus ?? 1 },
            firmware: { bootloader: { efi: { secureBoot: false } } },
            devices: {
              disks: [{ name: 'containerdisk', disk: { bus: 'virtio' }, bootOrder: 1 }],
              interfaces: [{ name: 'default', masquerade: {} }],
            },
            resources: { requests: { memory: `${memory}Mi` } },
          },
          networks: [{ name: 'default', pod: {} }],
          volumes: [{ name: 'containerdisk', containerDisk: { image: formatReference(options.image) } }],
        },
      },
    },
  };
  const problems = schemaErrors(document);
  if (problems.length > 0) throw new KilnError(ErrorCodes.IMAGE_INVALID, 'the VirtualMachine kiln made does not match KubeVirt\'s schema (a kiln bug)', { details: problems });
  return document;
}

export { schemaErrors as kubevirtSchemaErrors };
