import type { Context } from '../../context.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import { exportDisk, parseDiskFormat } from '../../export/disk.js';
import { exportLibvirt } from '../../export/libvirt.js';
import { loadImage } from '../../image/manifest.js';
import { kubevirtVirtualMachine } from '../../export/kubevirt.js';
import { parseReference } from '../../oci/reference.js';

export interface RawExportOptions {
  libvirt?: boolean;
  disk?: string;
  output?: string;
  initrdOut?: string;
  network?: string[];
  domainType?: string;
  kubevirt?: string;
  name?: string;
}

/**
 * `kiln export IMAGE --libvirt > app.xml`: the domain XML on stdout, its initrd written beside the image.
 * `kiln export IMAGE --disk qcow2|vmdk|vhd|raw -o FILE`: a disk-target image's disk, converted.
 */
export async function exportCommand(ctx: Context, imageDir: string, options: RawExportOptions): Promise<number> {
  if (options.disk) {
    if (!options.output) throw new KilnError(ErrorCodes.USAGE, '--disk needs -o FILE', { hint: 'kiln export IMAGE --disk qcow2 -o app.qcow2' });
    await exportDisk(await loadImage(imageDir), parseDiskFormat(options.disk), options.output);
    ctx.reporter.emit({ type: 'step', step: 'export', message: `wrote ${options.output} (${options.disk})` });
    return 0;
  }
  if (options.kubevirt) {
    const vm = kubevirtVirtualMachine(await loadImage(imageDir), { image: parseReference(options.kubevirt), ...(options.name ? { name: options.name } : {}) });
    process.stdout.write(JSON.stringify(vm, null, 2) + '\n');
    return 0;
  }
  if (!options.libvirt) {
    throw new KilnError(ErrorCodes.USAGE, 'say what to export', { hint: 'kiln export IMAGE --libvirt > app.xml, kiln export IMAGE --disk qcow2 -o app.qcow2, or kiln export IMAGE --kubevirt REF > vm.json' });
  }
  const domainType = options.domainType ?? 'kvm';
  if (domainType !== 'kvm' && domainType !== 'qemu') {
    throw new KilnError(ErrorCodes.USAGE, `--domain-type ${domainType} must be kvm or qemu`);
  }
  const image = await loadImage(imageDir);
  const { xml, initrdPath } = await exportLibvirt(image, {
    domainType,
    ...(options.initrdOut ? { initrdOut: options.initrdOut } : {}),
    ...(options.network ? { networks: options.network.filter((name) => name !== 'none') } : {}),
  });
  ctx.reporter.emit({ type: 'step', step: 'export', message: `wrote ${initrdPath} (the domain's initrd with its runtime config)` });
  process.stdout.write(xml);
  return 0;
}
