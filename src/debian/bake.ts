import { posix, join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import type { BakeRequest } from '../bake/gather.js';
import type { DataFileRequest } from '../bake/data.js';
import type { ComponentInput } from '../image/components.js';
import { resolveElfClosure } from '../rootfs/libs.js';
import { resolveInRoot } from '../rootfs/sysroot.js';
import { resolveDebianClosure } from './resolve.js';
import { realiseWithOwners } from './realise.js';
import type { DebianImageSpec } from './types.js';
import { placePrograms } from '../bake/programs.js';

export type DebianBakeParts = Partial<BakeRequest> & { appPath: string; sysroot: string; files: DataFileRequest[]; components: ComponentInput[] };

/**
 * The parts of a bake that come from a Debian package: the program inside the unpacked
 * closure (appPath, with sysroot so its libraries come from the same tree), the declared
 * data files at their package paths, extra host data files, and one component per package
 * that has a file in the image (with those guest paths). Packages of the closure that
 * contribute nothing to the image (documentation-only bases, tools the program never loads)
 * stay in the lock but are not image components.
 */
export async function debianBakeRequest(ctx: Context, spec: DebianImageSpec): Promise<DebianBakeParts> {
  const lock = spec.lock ?? (await resolveDebianClosure(ctx, spec));
  const { root, components, owners } = await realiseWithOwners(ctx, lock);
  const binary = spec.binary ?? defaultBinary(lock.package, owners);
  const app = await resolveInRoot(root, binary, true);
  if (!app.exists || owners[app.path] === undefined) {
    throw new KilnError(ErrorCodes.DEBIAN_FILE_NOT_FOUND, `${binary} is not in ${lock.package} ${lock.version} or its dependencies`, {
      hint: `name one of the package's programs with --binary: ${programsOf(lock.package, owners).join(', ') || '(it ships none in /usr/bin or /usr/sbin)'}`,
    });
  }
  // The program keeps the name it is run by (/usr/bin/redis-server is a symlink to redis-check-rdb,
  // and redis decides by argv[0] what to be); bake copies the real file there.
  const named = await resolveInRoot(root, binary, false);
  const appPath = join(root, named.path);

  const files: DataFileRequest[] = [];
  for (const path of spec.files ?? []) {
    const place = await resolveInRoot(root, path, false);
    const owned = Object.keys(owners).some((p) => p === place.path || p.startsWith(`${place.path}/`));
    if (!place.exists || !owned) {
      throw new KilnError(ErrorCodes.DEBIAN_FILE_NOT_FOUND, `${path} is not in ${lock.package} ${lock.version} or its dependencies`, { hint: 'list paths the packages ship (dpkg-deb -c)' });
    }
    files.push({ hostPath: join(root, place.path), guestPath: place.path });
  }
  for (const extra of spec.data ?? []) files.push(extra);

  // Which guest paths come from which package: the program, its loader and libraries, the other programs and the data trees.
  const closure = await resolveElfClosure(join(root, app.path), { sysroot: root, appGuestPath: named.path });
  const used = new Set<string>([app.path, named.path, ...closure.libraries.map((l) => l.guestPath), ...(closure.interpreter ? [closure.interpreter.guestPath] : [])]);
  const programs = await placePrograms(spec.programs ?? [], { sysroot: root, machine: closure.app.info.machine, machineName: closure.app.info.machineName });
  for (const program of programs) {
    const real = program.hostPath.slice(root.length);
    if (owners[real] === undefined) {
      throw new KilnError(ErrorCodes.DEBIAN_FILE_NOT_FOUND, `the program ${program.guestPath} is not in ${lock.package} ${lock.version} or the packages beside it`, { hint: 'add the package that ships it' });
    }
    used.add(real);
    used.add(program.guestPath);
    for (const lib of program.closure?.libraries ?? []) used.add(lib.guestPath);
    if (program.closure?.interpreter) used.add(program.closure.interpreter.guestPath);
  }
  for (const f of files) {
    if (!f.hostPath.startsWith(`${root}/`)) continue;
    for (const p of Object.keys(owners)) if (p === f.guestPath || p.startsWith(`${f.guestPath}/`)) used.add(p);
  }
  const filesOf = new Map<string, string[]>();
  const add = (owner: string | undefined, path: string) => {
    if (owner !== undefined && !filesOf.get(owner)?.includes(path)) filesOf.set(owner, [...(filesOf.get(owner) ?? []), path]);
  };
  for (const path of [...used].sort()) add(owners[path], path);
  // The program's guest path holds the bytes of the package that ships the real file.
  add(owners[app.path], named.path);
  for (const program of programs) add(owners[program.hostPath.slice(root.length)], program.guestPath);
  for (const list of filesOf.values()) list.sort();
  const kept = components.filter((c) => filesOf.has(c.name));
  const keptIds = new Set(kept.map((c) => c.id));
  return {
    appPath,
    sysroot: root,
    ...(programs.length > 0 ? { programs: programs.map((p) => p.guestPath) } : {}),
    files,
    components: kept.map((c) => ({ ...c, files: filesOf.get(c.name)!, dependsOn: (c.dependsOn ?? []).filter((d) => keptIds.has(d)) })),
  };
}

/** The package's program named like the package, in /usr/bin, /usr/sbin, /bin or /sbin. */
function defaultBinary(pkg: string, owners: Record<string, string>): string {
  for (const dir of ['/usr/bin', '/usr/sbin', '/bin', '/sbin']) {
    const path = `${dir}/${pkg}`;
    if (owners[path] === pkg) return path;
  }
  const programs = programsOf(pkg, owners);
  if (programs.length === 1) return programs[0]!;
  throw new KilnError(ErrorCodes.DEBIAN_FILE_NOT_FOUND, `${pkg} has no program named ${pkg}; say which one to run`, {
    hint: programs.length > 0 ? `add --binary PATH, one of: ${programs.join(', ')}` : 'it ships no program in /usr/bin or /usr/sbin: name another package, or give --binary PATH from one of its dependencies',
  });
}

function programsOf(pkg: string, owners: Record<string, string>): string[] {
  return Object.entries(owners)
    .filter(([path, owner]) => owner === pkg && ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].includes(posix.dirname(path)))
    .map(([path]) => path)
    .sort();
}
