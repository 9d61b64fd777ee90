import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { obtainKernel, loadModuleIndex, resolveModuleClosure } from '../components/index.js';
import { extractVmlinux } from '../components/vmlinux.js';
import { buildShim } from '../init/build.js';
import { EM_X86_64, parseElfFile } from '../rootfs/elf.js';
import { checkAppProvenance } from '../toolchain/provenance.js';
import { tuplesForArch } from '../toolchain/tuples.js';
import { resolveElfClosure } from '../rootfs/libs.js';
import type { Target } from '../targets/types.js';
import { sha256File } from '../util/fs.js';
import { KILN_VERSION } from '../version.js';
import { guestPathForApp } from './plan.js';
import type { BakeInputs, HostFile } from './types.js';
import { gatherDataFiles, type DataFileRequest } from './data.js';
import type { ComponentInput } from '../image/components.js';

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
  /** Package components (kiln or Debian packages) the app and data came from, for licenses and SBOMs. */
  components?: ComponentInput[];
}

/** Reads every fact a bake depends on from disk (the I/O half of bake; planBake is pure). */
export async function gatherBakeInputs(ctx: Context, request: BakeRequest): Promise<BakeInputs> {
  const appPath = resolve(request.appPath);
  const appStat = await stat(appPath).catch((error: unknown) => {
    throw new KilnError(ErrorCodes.APP_NOT_FOUND, `${request.appPath} does not exist`, { cause: error, hint: 'give the path of an x86_64 Linux executable' });
  });
  if (!appStat.isFile()) {
    throw new KilnError(ErrorCodes.APP_NOT_FOUND, `${request.appPath} is not a regular file`, { hint: 'give the path of an x86_64 Linux executable' });
  }
  const info = parseElfFile(appPath);
  if (info.machine !== EM_X86_64 || info.class !== 64) {
    throw new KilnError(ErrorCodes.APP_WRONG_ARCH, `${request.appPath} is built for ${info.machineName} (${info.class}-bit), not x86_64`, {
      hint: 'rebuild it for x86_64, e.g. with x86_64-kiln-linux-musl-gcc or musl-gcc -static',
    });
  }
  if (info.type !== 'exec' && info.type !== 'dyn') {
    throw new KilnError(ErrorCodes.APP_NOT_ELF, `${request.appPath} is an ELF ${info.type} file, not an executable`, { hint: 'link it into a program first' });
  }
  // Apps built with the kiln wrappers say for which tuple (src/toolchain/provenance.ts).
  const provenance = checkAppProvenance(info, 'x86_64', request.appPath, tuplesForArch('x86_64'));
  if (provenance.warning) ctx.reporter.emit(provenance.warning);

  ctx.reporter.emit({ type: 'step', step: 'kernel', message: 'resolving kernel components' });
  const kernel = await obtainKernel(ctx, { ...(request.kernelPath ? { kernelPath: request.kernelPath } : {}), ...(request.modulesDir ? { modulesDir: request.modulesDir } : {}) });
  // PVH targets (microvm, xen) boot the uncompressed vmlinux; kiln extracts it from the bzImage.
  const bootKernel = request.target.kernel === 'vmlinux' ? await extractVmlinux(ctx, kernel) : { path: kernel.kernelPath, sha256: kernel.kernelSha256 };
  const componentSets = [...new Set([...request.target.componentSets, ...(request.extraComponentSets ?? [])])];
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
  const appGuestPath = guestPathForApp(appPath);
  // Files are stored at their real paths (/usr/lib/...); closure.symlinks (/lib -> usr/lib)
  // make the paths the dynamic loader opens reach them.
  const closure = isDynamic ? await resolveElfClosure(appPath, { appGuestPath }) : undefined;
  const libraries = await Promise.all(
    (closure?.libraries ?? []).map(async (lib) => ({ soname: lib.soname, neededBy: lib.neededBy, ...(await hostFile(lib.hostPath, lib.guestPath, true)) })),
  );
  const interpreter = closure?.interpreter
    ? { ...(await hostFile(closure.interpreter.hostPath, closure.interpreter.guestPath, true)), loaderPath: closure.interpreter.loaderPath }
    : undefined;

  const shim = await buildShim(ctx);
  const app = await hostFile(appPath, closure?.app.guestPath ?? appGuestPath, true);
  // The guest has no ld.so.cache: libraries found through ld.so.conf need LD_LIBRARY_PATH.
  const env = { ...(closure && closure.libraryPath.length > 0 ? { LD_LIBRARY_PATH: closure.libraryPath.join(':') } : {}), ...request.env };
  return {
    target: request.target,
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
    symlinks: closure?.symlinks ?? [],
    kernel: {
      hostPath: bootKernel.path,
      file: 'kernel',
      sha256: bootKernel.sha256,
      release: kernel.release,
      initSize: kernel.initSize,
      source: kernel.source,
    },
    modules,
    componentSets,
    shim: { ...(await hostFile(shim.path, '/kiln/init', true)), compiler: shim.compiler },
    data: await gatherDataFiles(request.files ?? []),
    kilnVersion: KILN_VERSION,
  };
}

async function hostFile(hostPath: string, guestPath: string, executable: boolean): Promise<HostFile> {
  const [digest, info] = await Promise.all([sha256File(hostPath), stat(hostPath)]);
  return { hostPath, guestPath, sha256: digest, size: info.size, executable: executable && (info.mode & 0o111) !== 0 };
}
