import { stat } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { obtainKernel, loadModuleIndex, resolveModuleClosure } from '../components/index.js';
import { extractVmlinux } from '../components/vmlinux.js';
import { buildShim } from '../init/build.js';
import { parseElfFile } from '../rootfs/elf.js';
import { appArch, assertKernelArch } from './arch.js';
import { targetForArch } from '../targets/registry.js';
import { checkAppProvenance } from '../toolchain/provenance.js';
import { tuplesForArch } from '../toolchain/tuples.js';
import { sysrootPath } from '../toolchain/sysroot.js';
import { resolveElfClosure } from '../rootfs/libs.js';
import { resolveInRoot } from '../rootfs/sysroot.js';
import type { Target } from '../targets/types.js';
import { sha256File } from '../util/fs.js';
import { KILN_VERSION } from '../version.js';
import { guestPathForApp } from './plan.js';
import type { BakeInputs, HostFile } from './types.js';
import { gatherDataFiles, type DataFileRequest } from './data.js';
import { planDataPartition } from '../targets/disk/data-partition.js';
import { planSigning, type SigningRequest } from '../targets/efi/sign.js';
import type { ComponentInput } from '../image/components.js';
import { bakeInventory, type SupplyRequest } from '../supply/bake.js';
import { placePrograms } from './programs.js';
import { obtainHypervisor } from '../components/hypervisor.js';

export interface BakeRequest {
  appPath: string;
  target: Target;
  /** Default arguments and environment baked into the manifest; launch can override them. */
  args?: string[];
  env?: Record<string, string>;
  workdir?: string;
  /** A kernel of the user's instead of Debian's cloud kernel, with its modules directory. */
  kernelPath?: string;
  modulesDir?: string;
  /** Component sets on top of the target's own. */
  extraComponentSets?: string[];
  /** Data files and directory trees copied into the image. */
  files?: DataFileRequest[];
  /**
   * Other programs the image carries with their shared libraries (host paths, or paths inside
   * `sysroot`): for an app that runs programs of its own, such as a shell script (src/bake/programs.ts).
   */
  programs?: string[];
  /** disk target: a second GPT partition, empty ext4, mounted at `mount` (default /data) by the image's own UKI. */
  dataPartition?: { sizeMiB: number; mount?: string };
  /** efi/disk targets: sign the standalone UKI for Secure Boot (sbsign) with this key and certificate. */
  signing?: SigningRequest;
  /** Package components (kiln or Debian packages) the app and data came from, for licenses and SBOMs. */
  components?: ComponentInput[];
  /**
   * The image's architecture (x86_64, aarch64): a check against the app's ELF machine, which
   * decides it when this is absent. `target` is taken in that architecture's variant.
   */
  arch?: string;
  /**
   * An unpacked system tree the app lives in (a Debian staging root, src/debian): its libraries
   * are taken from that tree, and guest paths are paths inside it (the app keeps its real path).
   */
  sysroot?: string;
  /**
   * Where the app lands in the guest (absolute), when it is not in a sysroot: a package build's
   * app keeps its install path (/usr/bin/sqlite3). Default: guestPathForApp (/app/<name>).
   */
  appGuestPath?: string;
  /** Name, version and license of the app itself, and the license policy and audit to enforce (src/supply). */
  supply?: SupplyRequest;
}

/** Reads every fact a bake depends on from disk (the I/O half of bake; planBake is pure). */
export async function gatherBakeInputs(ctx: Context, request: BakeRequest): Promise<BakeInputs> {
  // Checked first: a bad guest path is a usage error, found before the slow steps.
  const wanted = request.appGuestPath;
  if (wanted !== undefined && (!posix.isAbsolute(wanted) || posix.normalize(wanted) !== wanted || wanted.endsWith('/') || wanted === '/init' || wanted === '/kiln' || wanted.startsWith('/kiln/'))) {
    throw new KilnError(ErrorCodes.USAGE, `the app's guest path ${JSON.stringify(wanted)} is not a normalised absolute path, or is one kiln reserves (/init, /kiln)`, { hint: 'e.g. /usr/bin/NAME' });
  }
  // Inside a sysroot the app is found as the guest will find it (absolute symlinks stay in the tree).
  const sysroot = request.sysroot === undefined ? undefined : resolve(request.sysroot);
  const inRoot = sysroot !== undefined ? await placeInRoot(sysroot, resolve(request.appPath)) : undefined;
  const appPath = inRoot?.hostPath ?? resolve(request.appPath);
  const appStat = await stat(appPath).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.APP_NOT_FOUND, `${request.appPath} does not exist`, { cause: error, hint: 'give the path of a Linux executable (x86_64 or aarch64)' });
  });
  if (!appStat.isFile()) {
    throw new KilnError(ErrorCodes.APP_NOT_FOUND, `${request.appPath} is not a regular file`, { hint: 'give the path of a Linux executable (x86_64 or aarch64)' });
  }
  const info = parseElfFile(appPath);
  // The app's ELF machine decides the image's architecture (src/bake/arch.ts).
  const arch = appArch(info, request.appPath, request.arch);
  const target = targetForArch(request.target, arch.name);
  if (info.type !== 'exec' && info.type !== 'dyn') {
    throw new KilnError(ErrorCodes.APP_NOT_ELF, `${request.appPath} is an ELF ${info.type} file, not an executable`, { hint: 'link it into a program first' });
  }
  // Apps built with the kiln wrappers say for which tuple (src/toolchain/provenance.ts).
  const provenance = checkAppProvenance(info, arch.name, request.appPath, tuplesForArch(arch.name));
  if (provenance.warning) ctx.reporter.emit(provenance.warning);

  // Checked before the slow steps: a data partition the target cannot have is a usage error.
  const dataPartition = planDataPartition(target, request.dataPartition);
  const signing = await planSigning(target, request.signing);
  ctx.reporter.emit({ type: 'step', step: 'kernel', message: 'resolving kernel components' });
  const kernel = await obtainKernel(ctx, {
    arch: arch.dpkgArch,
    ...(target.kernelPackage ? { packageName: target.kernelPackage } : {}),
    ...(request.kernelPath ? { kernelPath: request.kernelPath } : {}),
    ...(request.modulesDir ? { modulesDir: request.modulesDir } : {}),
  });
  const hypervisor = target.hypervisor ? await obtainHypervisor(ctx, target.hypervisor) : undefined;
  assertKernelArch(kernel, arch);
  // PVH targets (microvm, xen) boot the uncompressed vmlinux; kiln extracts it from the bzImage.
  const bootKernel = target.kernel === 'vmlinux' ? await extractVmlinux(ctx, kernel) : { path: kernel.kernelPath, sha256: kernel.kernelSha256 };
  const componentSets = [...new Set([...target.componentSets, ...(request.extraComponentSets ?? [])])];
  const modules: (HostFile & { name: string })[] = [];
  if (kernel.modulesDir) {
    const index = await loadModuleIndex(ctx, kernel);
    for (const module of resolveModuleClosure(index, componentSets)) {
      const hostPath = join(kernel.modulesDir, module.path);
      modules.push({ name: module.name, ...(await hostFile(hostPath, `/usr/lib/modules/${kernel.release}/${module.path}`, false)) });
    }
  }

  ctx.reporter.emit({ type: 'step', step: 'app', message: `reading ${request.appPath}` });
  const isDynamic = !info.isStatic;
  const appGuestPath = inRoot?.guestPath ?? request.appGuestPath ?? guestPathForApp(appPath);
  // Files are stored at their real paths (/usr/lib/...); closure.symlinks (/lib -> usr/lib)
  // make the paths the dynamic loader opens reach them.
  // An app built with the kiln wrappers may link libraries installed into its tuple's sysroot
  // (the glibc tuple's dynamic fallback): searched after RPATH/RUNPATH, before the host's
  // directories, and reached in the guest through LD_LIBRARY_PATH (closure.libraryPath).
  const builtFor = provenance.provenance?.tuple;
  const tupleLibs = sysroot === undefined && builtFor && tuplesForArch(arch.name).includes(builtFor) ? [join(sysrootPath(ctx, builtFor), 'usr/lib')] : [];
  const closure = isDynamic
    ? await resolveElfClosure(appPath, { appGuestPath, ...(sysroot !== undefined ? { sysroot } : {}), ...(tupleLibs.length > 0 ? { extraSearchPaths: tupleLibs } : {}) })
    : undefined;
  const programs = await placePrograms(request.programs ?? [], { ...(sysroot !== undefined ? { sysroot } : {}), machine: info.machine, machineName: info.machineName });
  // One copy of each library, whoever needs it: the app and the other programs share them.
  const closures = [...(closure ? [closure] : []), ...programs.flatMap((p) => (p.closure ? [p.closure] : []))];
  const libraryByPath = new Map<string, { soname: string; neededBy: string[]; hostPath: string; guestPath: string }>();
  for (const lib of closures.flatMap((c) => c.libraries)) {
    const seen = libraryByPath.get(lib.guestPath);
    libraryByPath.set(lib.guestPath, { soname: lib.soname, hostPath: lib.hostPath, guestPath: lib.guestPath, neededBy: [...new Set([...(seen?.neededBy ?? []), ...lib.neededBy])].sort() });
  }
  // The app's loader is the interpreter; a program linked against another C library brings its own as a library.
  const loaders = [...new Map(closures.flatMap((c) => (c.interpreter ? [[c.interpreter.guestPath, c.interpreter] as const] : []))).values()];
  const loader = closure?.interpreter ?? loaders[0];
  for (const other of loaders.filter((l) => l.guestPath !== loader?.guestPath)) {
    libraryByPath.set(other.guestPath, { soname: posix.basename(other.loaderPath), hostPath: other.hostPath, guestPath: other.guestPath, neededBy: [] });
  }
  const interpreter = loader ? { ...(await hostFile(loader.hostPath, loader.guestPath, true)), loaderPath: loader.loaderPath } : undefined;
  const libraries = await Promise.all(
    [...libraryByPath.values()].sort((a, b) => (a.guestPath < b.guestPath ? -1 : 1)).map(async (lib) => ({ soname: lib.soname, neededBy: lib.neededBy, ...(await hostFile(lib.hostPath, lib.guestPath, true)) })),
  );
  const symlinks = new Map(closures.flatMap((c) => c.symlinks).map((link) => [link.path, link]));
  const libraryPath = [...new Set(closures.flatMap((c) => c.libraryPath))].sort();

  const shim = await buildShim(ctx, arch.name);
  const app = await hostFile(appPath, closure?.app.guestPath ?? appGuestPath, true);
  // The guest has no ld.so.cache: libraries found through ld.so.conf need LD_LIBRARY_PATH.
  const env = { ...(libraryPath.length > 0 ? { LD_LIBRARY_PATH: libraryPath.join(':') } : {}), ...request.env };
  const inputs: BakeInputs = {
    target,
    app: {
      ...app,
      linkage: isDynamic ? 'dynamic' : 'static',
      ...(provenance.provenance ? { provenance: provenance.provenance } : {}),
      args: request.args ?? [],
      env,
      ...(request.workdir ? { workdir: request.workdir } : {}),
    },
    ...(interpreter ? { interpreter } : {}),
    libraries,
    programs: await Promise.all(programs.map((p) => hostFile(p.hostPath, p.guestPath, true))),
    symlinks: [...symlinks.values()].sort((a, b) => (a.path < b.path ? -1 : 1)),
    kernel: {
      hostPath: bootKernel.path,
      file: 'kernel',
      sha256: bootKernel.sha256,
      release: kernel.release,
      initSize: kernel.initSize,
      source: kernel.source,
    },
    ...(hypervisor ? { hypervisor: { file: 'xen', sha256: hypervisor.sha256, source: { kind: 'debian' as const, ...hypervisor.source }, hostPath: hypervisor.path } } : {}),
    modules,
    componentSets,
    shim: { ...(await hostFile(shim.path, '/kiln/init', true)), compiler: shim.compiler },
    data: await gatherDataFiles(request.files ?? []),
    ...(dataPartition ? { dataPartition } : {}),
    ...(signing ? { signing } : {}),
    kilnVersion: KILN_VERSION,
  };
  // What the image is made of, with the license policy and audit enforced on it.
  return { ...inputs, ...(await bakeInventory(ctx, inputs, [...(request.components ?? []), ...(hypervisor ? [hypervisor.component] : [])], request.supply ?? {})) };
}

/**
 * A program inside a sysroot: its guest path (the name it is run by, e.g. /usr/bin/redis-server,
 * a symlink to redis-check-rdb whose argv[0] decides what it does) and the real file behind it.
 */
async function placeInRoot(sysroot: string, hostPath: string): Promise<{ guestPath: string; hostPath: string }> {
  if (!hostPath.startsWith(`${sysroot}/`)) {
    throw new KilnError(ErrorCodes.APP_NOT_FOUND, `${hostPath} is not inside the system tree ${sysroot}`, { hint: 'give the program as a path inside the unpacked packages' });
  }
  const inside = hostPath.slice(sysroot.length);
  const [named, real] = await Promise.all([resolveInRoot(sysroot, inside, false), resolveInRoot(sysroot, inside, true)]);
  return { guestPath: named.path, hostPath: join(sysroot, real.path) };
}

async function hostFile(hostPath: string, guestPath: string, executable: boolean): Promise<HostFile> {
  const [digest, info] = await Promise.all([sha256File(hostPath), stat(hostPath)]);
  return { hostPath, guestPath, sha256: digest, size: info.size, executable: executable && (info.mode & 0o111) !== 0 };
}
