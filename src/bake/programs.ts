import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { KilnError, ErrorCodes } from '../errors.js';
import { parseElfFile } from '../rootfs/elf.js';
import { resolveElfClosure, type ElfClosure } from '../rootfs/libs.js';
import { resolveInRoot } from '../rootfs/sysroot.js';
import { guestPathForApp } from './plan.js';

/**
 * Other programs an image carries beside its app, each with the shared libraries it loads: for
 * an app that starts programs of its own (a shell script, a supervisor, a dom0's toolstack and
 * daemons). They are not run by the shim; the app finds them at their guest paths.
 */
export interface ProgramPlace {
  /** The real file on the host (inside the sysroot when there is one). */
  hostPath: string;
  /** Where it is in the guest: its path inside the sysroot, or its host path for system programs. */
  guestPath: string;
  closure?: ElfClosure;
}

/**
 * Finds each program (a host path, or a path inside `sysroot`) and its library closure. The
 * program must be an ELF executable of the image's machine; a script is data, not a program.
 */
export async function placePrograms(paths: readonly string[], options: { sysroot?: string; machine: number; machineName: string }): Promise<ProgramPlace[]> {
  const places: ProgramPlace[] = [];
  for (const path of paths) {
    const place = options.sysroot !== undefined ? await inRoot(options.sysroot, path) : { hostPath: resolve(path), guestPath: guestPathForApp(resolve(path)) };
    const info = await stat(place.hostPath).catch(() => undefined);
    if (!info?.isFile()) {
      throw new KilnError(ErrorCodes.APP_NOT_FOUND, `the program ${path} does not exist${options.sysroot !== undefined ? ' in the packages' : ''}`, {
        hint: options.sysroot !== undefined ? 'give a path inside the unpacked packages (dpkg-deb -c PACKAGE.deb lists them), and add the package that ships it' : 'give the path of an executable on this host',
      });
    }
    let elf;
    try {
      elf = parseElfFile(place.hostPath);
    } catch (error) {
      throw new KilnError(ErrorCodes.APP_NOT_ELF, `the program ${path} is not an ELF executable`, { cause: error, hint: 'scripts go in with --file; programs must be ELF executables of the image architecture' });
    }
    if ((elf.type !== 'exec' && elf.type !== 'dyn') || elf.machine !== options.machine) {
      throw new KilnError(ErrorCodes.APP_NOT_ELF, `the program ${path} is not a ${options.machineName} executable`, { hint: 'scripts go in with --file; programs must be ELF executables of the image architecture' });
    }
    const closure = elf.isStatic ? undefined : await resolveElfClosure(place.hostPath, { appGuestPath: place.guestPath, ...(options.sysroot !== undefined ? { sysroot: options.sysroot } : {}) });
    places.push({ ...place, ...(closure ? { closure } : {}) });
  }
  return places;
}

/** A program inside a system tree: the name it is run by, and the real file behind symlinks. */
async function inRoot(sysroot: string, path: string): Promise<{ hostPath: string; guestPath: string }> {
  const root = resolve(sysroot);
  const inside = path.startsWith(`${root}/`) ? path.slice(root.length) : path;
  const [named, real] = await Promise.all([resolveInRoot(root, inside, false), resolveInRoot(root, inside, true)]);
  return { hostPath: join(root, real.path), guestPath: named.path };
}
