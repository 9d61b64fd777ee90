import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { ComponentInput } from '../image/components.js';
import { realiseDebian } from '../debian/realise.js';
import { resolveDebianClosure } from '../debian/resolve.js';
import { readTextInRoot } from '../rootfs/sysroot.js';
import { packageLicense } from '../debian/license.js';
import { publishDirectory, sha256, writeFileAtomically } from '../util/fs.js';

/**
 * A hypervisor from a Debian package, for images that boot one under QEMU (the xen-host
 * target): Debian's `xen-hypervisor-4.17-amd64` ships /boot/xen-4.17-amd64.gz, a gzip'd
 * 32-bit multiboot ELF, which QEMU's -kernel loads once it is unpacked. The package comes
 * through kiln's Debian inputs (resolved with apt, hash-checked, unpacked without installing);
 * the unpacked file is cached under the sha256 of its bytes:
 *
 *   <cache>/hypervisors/<sha256>/xen
 */
export interface HypervisorSpec {
  /** The Debian package that ships it. */
  package: string;
  /** Its file inside the package (gzip'd when it ends in .gz). */
  file: string;
}

export interface Hypervisor {
  path: string;
  sha256: string;
  /** The package it came from, for the manifest and the image's components. */
  source: { package: string; version: string; sha256: string };
  component: ComponentInput;
}

export async function obtainHypervisor(ctx: Context, spec: HypervisorSpec): Promise<Hypervisor> {
  ctx.reporter.emit({ type: 'step', step: 'hypervisor', message: `taking the hypervisor from ${spec.package}` });
  const lock = await resolveDebianClosure(ctx, { package: spec.package });
  const entry = lock.closure.find((e) => e.package === spec.package)!;
  const { root } = await realiseDebian(ctx, { ...lock, closure: [entry] });
  const packed = await readFile(join(root, spec.file)).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.KERNEL_INVALID, `${spec.package} ${entry.version} has no ${spec.file}`, { cause: error, hint: 'the package layout changed: update the target' });
  });
  const bytes = spec.file.endsWith('.gz') ? gunzipSync(packed) : packed;
  const digest = sha256(bytes);
  const dir = join(ctx.paths.cache, 'hypervisors', digest);
  const path = join(dir, 'xen');
  const present = await readFile(path).then((b) => sha256(b) === digest, () => false);
  if (!present) await publishDirectory(dir, async (tmp) => writeFileAtomically(join(tmp, 'xen'), bytes));
  const copyright = await readTextInRoot(root, `/usr/share/doc/${spec.package}/copyright`);
  return {
    path,
    sha256: digest,
    source: { package: entry.package, version: entry.version, sha256: entry.sha256 },
    component: {
      id: `debian:${entry.package}`,
      kind: 'debian-package',
      name: entry.package,
      version: entry.version,
      license: packageLicense(entry.source.package, copyright),
      debian: { package: entry.package, version: entry.version, architecture: entry.architecture, source: entry.source },
      files: [],
      dependsOn: [],
      sha256: entry.sha256,
    },
  };
}
