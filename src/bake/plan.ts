import { posix } from 'node:path';
import { encodeRecords } from '../config/wire.js';
import { GUEST_IMAGE_CONF, GUEST_INIT, imageConfRecords } from '../init/contract.js';
import type { ImageFile } from '../image/manifest.js';
import { IMAGE_FORMAT } from '../image/manifest.js';
import { SUPPLY_FORMAT } from '../supply/format.js';
import type { CpioEntry } from '../rootfs/cpio.js';
import { canonicalJson, sha256 } from '../util/fs.js';
import { defaultMemoryMiB, minimumMemoryMiB } from './memory.js';
import type { BakeInputs, BakePlan, HostFile } from './types.js';

/** Mount points and device nodes every guest needs before the shim has mounted anything. */
const SKELETON: CpioEntry[] = [
  { path: '/dev', kind: 'dir', mode: 0o755 },
  { path: '/dev/console', kind: 'chardev', mode: 0o600, rdevMajor: 5, rdevMinor: 1 },
  { path: '/etc', kind: 'dir', mode: 0o755 },
  { path: '/proc', kind: 'dir', mode: 0o755 },
  { path: '/run', kind: 'dir', mode: 0o755 },
  { path: '/sys', kind: 'dir', mode: 0o755 },
  { path: '/tmp', kind: 'dir', mode: 0o1777 },
];

/** cpio newc overhead per entry: a 110-byte header, the name and padding to 4 bytes. */
const CPIO_ENTRY_OVERHEAD = 128;

/**
 * Plans an image: which files go where, the manifest, the cache key. Pure. `formats` are the
 * versions of generated content (the supply chain's inventory and SBOM) that the key must
 * cover besides the inputs; only tests pass other values.
 */
export function planBake(inputs: BakeInputs, formats: { supply: number } = { supply: SUPPLY_FORMAT }): BakePlan {
  const imageConf = encodeRecords(imageConfRecords(inputs.modules.map((module) => module.guestPath)));
  const entries: CpioEntry[] = [...SKELETON];
  const files: ImageFile[] = SKELETON.map((entry) => ({ path: entry.path, kind: entry.kind === 'chardev' ? 'chardev' : 'dir', role: 'skeleton', mode: entry.mode }));

  const addFile = (file: HostFile, role: ImageFile['role']) => {
    const mode = file.executable ? 0o755 : 0o644;
    entries.push({ path: file.guestPath, kind: 'file', mode, source: { file: file.hostPath } });
    files.push({ path: file.guestPath, kind: 'file', role, mode, size: file.size, sha256: file.sha256 });
  };
  addFile(inputs.shim, 'init');
  entries.push({ path: GUEST_IMAGE_CONF, kind: 'file', mode: 0o644, source: { data: imageConf } });
  files.push({ path: GUEST_IMAGE_CONF, kind: 'file', role: 'config', mode: 0o644, size: imageConf.length, sha256: sha256(imageConf) });
  addFile(inputs.app, 'app');
  if (inputs.interpreter) addFile(inputs.interpreter, 'interpreter');
  for (const program of inputs.programs ?? []) addFile(program, 'program');
  for (const library of inputs.libraries) addFile(library, 'library');
  for (const module of inputs.modules) addFile(module, 'module');
  for (const item of inputs.data) {
    if (item.kind === 'file') addFile(item, 'data');
    else if (item.kind === 'dir') {
      entries.push({ path: item.guestPath, kind: 'dir', mode: 0o755 });
      files.push({ path: item.guestPath, kind: 'dir', role: 'data', mode: 0o755 });
    } else {
      entries.push({ path: item.guestPath, kind: 'symlink', mode: 0o777, target: item.target });
      files.push({ path: item.guestPath, kind: 'symlink', role: 'data', mode: 0o777, target: item.target });
    }
  }
  for (const link of inputs.symlinks) {
    entries.push({ path: link.path, kind: 'symlink', mode: 0o777, target: link.target });
    files.push({ path: link.path, kind: 'symlink', role: 'skeleton', mode: 0o777, target: link.target });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const initrdEstimate = files.reduce((sum, file) => sum + (file.size ?? 0) + CPIO_ENTRY_OVERHEAD, 0);
  const minimumMiB = minimumMemoryMiB(inputs.kernel.initSize, initrdEstimate);
  const { hostPath: kernelHostPath, ...kernel } = inputs.kernel;
  const { hostPath: hypervisorHostPath, ...hypervisor } = inputs.hypervisor ?? { hostPath: undefined };

  const manifest: BakePlan['manifest'] = {
    format: IMAGE_FORMAT,
    target: inputs.target.name,
    arch: inputs.target.arch,
    cmdline: inputs.target.cmdline.join(' '),
    kernel: { ...kernel, file: 'kernel' },
    ...(inputs.hypervisor ? { hypervisor: hypervisor as NonNullable<BakePlan['manifest']['hypervisor']> } : {}),
    app: {
      guestPath: inputs.app.guestPath,
      args: inputs.app.args,
      env: inputs.app.env,
      ...(inputs.app.workdir ? { workdir: inputs.app.workdir } : {}),
      linkage: inputs.app.linkage,
      ...(inputs.interpreter && inputs.app.linkage === 'dynamic' ? { interpreter: inputs.interpreter.loaderPath } : {}),
      sha256: inputs.app.sha256,
      ...(inputs.app.provenance ? { provenance: inputs.app.provenance } : {}),
    },
    componentSets: [...inputs.componentSets],
    modules: inputs.modules.map((module) => ({ name: module.name, path: module.guestPath, sha256: module.sha256 })),
    shim: { sha256: inputs.shim.sha256, compiler: inputs.shim.compiler },
    memory: { minimumMiB, defaultMiB: defaultMemoryMiB(minimumMiB) },
    files,
    kiln: { version: inputs.kilnVersion, supply: formats.supply },
    ...(inputs.components ? { components: inputs.components } : {}),
    ...(inputs.distro ? { distro: inputs.distro } : {}),
    ...(inputs.dataPartition ? { dataPartition: inputs.dataPartition } : {}),
    ...(inputs.signing ? { signing: { certSha256: inputs.signing.certSha256 } } : {}),
  };
  // The manifest lists every input by content, so its hash is the image's identity.
  return {
    key: sha256(canonicalJson(manifest)),
    target: inputs.target,
    entries,
    manifest,
    kernelHostPath,
    ...(hypervisorHostPath ? { hypervisorHostPath } : {}),
    ...(inputs.signing ? { signing: inputs.signing } : {}),
  };
}

/**
 * Where an app lives in the guest: programs installed on the host system keep their path
 * (they may find data relative to it); anything else goes to /app/<name>.
 */
export function guestPathForApp(hostPath: string): string {
  const systemDirs = ['/usr/', '/bin/', '/sbin/', '/opt/'];
  if (systemDirs.some((dir) => hostPath.startsWith(dir))) return hostPath;
  return posix.join('/app', posix.basename(hostPath));
}
