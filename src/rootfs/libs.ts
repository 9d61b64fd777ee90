import { realpath, stat } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { KilnError, ErrorCodes, isKilnError } from '../errors.js';
import { parseElfFile, type ElfInfo } from './elf.js';
import { readLdSoConf, readMuslPath, resolveInRoot, type GuestSymlink } from './sysroot.js';

export { hostMergedUsrLinks, type GuestSymlink } from './sysroot.js';

/**
 * Finds the files a dynamic ELF program needs, the way its dynamic loader would, by reading
 * DT_NEEDED / DT_RPATH / DT_RUNPATH (never by running ldd, which executes the program).
 *
 * Vocabulary:
 * - loaderPath: the path the loader opens in the guest (/lib/x86_64-linux-gnu/libc.so.6).
 * - guestPath:  where the file is stored in the guest tree: loaderPath with directory symlinks
 *   of the sysroot resolved (/usr/lib/x86_64-linux-gnu/libc.so.6 on merged-/usr Debian).
 * - symlinks:   those directory symlinks (/lib -> usr/lib). The guest tree must contain them,
 *   so that every loaderPath leads to its guestPath. Storing files under the resolved path
 *   is what makes this possible: a cpio cannot hold both a /lib symlink and files under /lib.
 * - hostPath:   the real file to copy (every symlink resolved).
 *
 * Search order (glibc): DT_RPATH of the needing object and of the objects that loaded it
 * (only while none has DT_RUNPATH), DT_RUNPATH of the needing object, extraSearchPaths,
 * the sysroot's /etc/ld.so.conf (+ includes), then the default directories. LD_LIBRARY_PATH
 * is ignored: it belongs to the build host, not the guest. musl: RPATH/RUNPATH up the chain,
 * extraSearchPaths, then /etc/ld-musl-ARCH.path or musl's built-in list. Not handled:
 * glibc-hwcaps subdirectories (the baseline library is taken), $LIB and $PLATFORM, and
 * relative search paths (they depend on the working directory at run time).
 */

export type LibrarySource = 'rpath' | 'runpath' | 'extra' | 'ld.so.conf' | 'musl-path' | 'default' | 'direct';

export interface ElfClosureOptions {
  /** System tree the libraries come from; default '/'. Absolute symlinks are taken inside it. */
  sysroot?: string;
  /** More directories (paths inside the sysroot) searched after RUNPATH, before ld.so.conf. */
  extraSearchPaths?: string[];
  /** Where the app will be in the guest (default: its real path); its $ORIGIN follows it. */
  appGuestPath?: string;
}

export interface ClosureFile {
  guestPath: string;
  loaderPath: string;
  hostPath: string;
}

export interface ClosureLibrary extends ClosureFile {
  /** The DT_NEEDED name it was loaded by. */
  soname: string;
  /** loaderPaths (the app: its guestPath) of the objects that need it, sorted. */
  neededBy: string[];
  foundVia: LibrarySource;
}

export interface ElfClosure {
  app: { path: string; guestPath: string; info: ElfInfo };
  interpreter?: ClosureFile;
  /** Sorted by guestPath. */
  libraries: ClosureLibrary[];
  /** Directory symlinks the guest tree needs (see above), sorted by path. */
  symlinks: GuestSymlink[];
  /**
   * Directories the guest loader will not search by itself: libraries found there came from
   * ld.so.conf (the guest has no ld.so.cache) or extraSearchPaths. Put them in the app's
   * LD_LIBRARY_PATH. Empty for ordinary Debian programs.
   */
  libraryPath: string[];
}

/** $ORIGIN of a loaded object, in the guest; `host` when its directory is not the sysroot's. */
interface Origin {
  guest: string;
  host?: string;
}

interface Loaded {
  /** How error messages name it: the app as the user gave it, libraries by loaderPath. */
  display: string;
  loaderPath: string;
  info: ElfInfo;
  origin: Origin;
  loadedBy?: Loaded;
  library?: ClosureLibrary;
}

interface SearchDir {
  dir: string;
  host?: string;
  via: LibrarySource;
}

interface Missing {
  name: string;
  needer: Loaded;
  searched: string[];
}

const MULTIARCH: Record<string, string> = { x86_64: 'x86_64-linux-gnu', aarch64: 'aarch64-linux-gnu', x86: 'i386-linux-gnu', arm: 'arm-linux-gnueabihf' };
const MUSL_ARCH: Record<string, string> = { x86_64: 'x86_64', aarch64: 'aarch64', x86: 'i386', arm: 'armhf' };
/** Names musl's loader answers itself: it is libc, libpthread, libm, ... all at once. */
const MUSL_BUILTIN = /^lib(c|pthread|rt|m|dl|util|xnet)\./;

export async function resolveElfClosure(appPath: string, opts: ElfClosureOptions = {}): Promise<ElfClosure> {
  const root = resolve(opts.sysroot ?? '/');
  const appReal = await realpath(appPath).catch((cause: unknown) => {
    throw new KilnError(ErrorCodes.APP_NOT_FOUND, `${appPath} does not exist`, { hint: 'check the path of the program to bake', cause });
  });
  if (!(await stat(appReal)).isFile()) throw new KilnError(ErrorCodes.APP_NOT_FOUND, `${appPath} is not a regular file`);
  const info = parseElfFile(appReal);
  const insideRoot = root === '/' ? appReal : appReal.startsWith(root + '/') ? appReal.slice(root.length) : undefined;
  const appPlace = await resolveInRoot(root, opts.appGuestPath ?? insideRoot ?? appReal, false);
  const appOrigin = posix.dirname(appPlace.path);
  const hostOrigin = posix.dirname(appReal);
  const app: Loaded = {
    display: appPath,
    loaderPath: appPlace.path,
    info,
    origin: join(root, appOrigin) === hostOrigin ? { guest: appOrigin } : { guest: appOrigin, host: hostOrigin },
  };
  const symlinks = new Map<string, GuestSymlink>(appPlace.links.map((l) => [l.path, l]));
  const closure: ElfClosure = { app: { path: appPath, guestPath: appPlace.path, info }, libraries: [], symlinks: [], libraryPath: [] };

  const loaded = new Map<string, Loaded>(); // by DT_NEEDED name, as the loader matches them
  const byGuestPath = new Map<string, Loaded>();
  const isMusl = info.interpreter !== undefined && posix.basename(info.interpreter).startsWith('ld-musl-');
  const provided = (name: string) => isMusl && MUSL_BUILTIN.test(name);
  const preloaded = new Set<string>();

  if (info.interpreter !== undefined) {
    const interp = await findInterpreter(root, info.interpreter, app);
    closure.interpreter = interp.file;
    for (const l of interp.links) symlinks.set(l.path, l);
    preloaded.add(posix.basename(info.interpreter));
    if (interp.info.soname) preloaded.add(interp.info.soname);
  }

  const env = await searchEnvironment(root, info, isMusl, opts.extraSearchPaths ?? []);
  const builtin = new Set(await Promise.all(env.builtin.map(async (d) => (await resolveInRoot(root, d, true)).path)));
  const libraryPath = new Set<string>();
  const missing: Missing[] = [];
  const queue: Loaded[] = [app];

  // Breadth first, like the loader: the first object to need a name decides where it is found.
  for (let i = 0; i < queue.length; i++) {
    const needer = queue[i]!;
    for (const name of needer.info.needed) {
      if (preloaded.has(name) || provided(name)) continue;
      const known = loaded.get(name);
      if (known) {
        known.library!.neededBy.push(needer.loaderPath);
        continue;
      }
      const searched: string[] = [];
      const found = await search(root, name, searchDirs(needer, env, isMusl), info, searched);
      if (!found) {
        missing.push({ name, needer, searched });
        continue;
      }
      const same = byGuestPath.get(found.place.path);
      if (same) {
        // Another name for a file already loaded: the loader recognises it (same inode).
        loaded.set(name, same);
        same.library!.neededBy.push(needer.loaderPath);
        continue;
      }
      for (const l of found.place.links) symlinks.set(l.path, l);
      const library: ClosureLibrary = { soname: name, guestPath: found.place.path, loaderPath: found.loaderPath, hostPath: found.hostPath, neededBy: [needer.loaderPath], foundVia: found.via };
      const object: Loaded = { display: found.loaderPath, loaderPath: found.loaderPath, info: found.info, origin: found.origin, loadedBy: needer, library };
      if (['extra', 'ld.so.conf', 'musl-path', 'default'].includes(found.via)) {
        const dir = posix.dirname(found.loaderPath);
        if (!builtin.has((await resolveInRoot(root, dir, true)).path)) libraryPath.add(dir);
      }
      loaded.set(name, object);
      byGuestPath.set(found.place.path, object);
      queue.push(object);
    }
  }
  if (missing.length > 0) throw notFound(missing);

  closure.libraries = [...byGuestPath.values()].map((o) => ({ ...o.library!, neededBy: [...new Set(o.library!.neededBy)].sort() }));
  closure.libraries.sort((a, b) => compare(a.guestPath, b.guestPath));
  closure.symlinks = [...symlinks.values()].sort((a, b) => compare(a.path, b.path));
  closure.libraryPath = [...libraryPath].sort(compare);
  return closure;
}

async function findInterpreter(root: string, loaderPath: string, app: Loaded): Promise<{ file: ClosureFile; info: ElfInfo; links: GuestSymlink[] }> {
  const place = await resolveInRoot(root, loaderPath, false);
  const real = await resolveInRoot(root, loaderPath, true);
  const hostPath = join(root, real.path);
  const isFile = real.exists && (await stat(hostPath).catch(() => undefined))?.isFile();
  const info = isFile ? tryParse(hostPath) : undefined;
  if (!info || info.class !== app.info.class || info.machine !== app.info.machine) {
    throw new KilnError(ErrorCodes.LIBRARY_NOT_FOUND, `the ELF interpreter ${loaderPath}, needed by ${app.display}, was not found`, {
      hint: `install the C library ${app.display} was built against (${posix.basename(loaderPath)}), or bake a static build`,
      details: [info ? `${hostPath} is ${describe(info)}, the program is ${describe(app.info)}` : `${hostPath} does not exist or is not an ELF file`],
    });
  }
  return { file: { guestPath: place.path, loaderPath, hostPath }, info, links: place.links };
}

interface SearchEnvironment {
  extra: string[];
  system: SearchDir[];
  builtin: string[];
}

async function searchEnvironment(root: string, app: ElfInfo, isMusl: boolean, extra: string[]): Promise<SearchEnvironment> {
  if (isMusl) {
    const musl = await readMuslPath(root, app.interpreter!, MUSL_ARCH[app.machineName] ?? app.machineName);
    return { extra, system: musl.dirs.map((dir) => ({ dir, via: musl.fromFile ? 'musl-path' : 'default' })), builtin: ['/lib', '/usr/local/lib', '/usr/lib'] };
  }
  const triplet = MULTIARCH[app.machineName];
  const builtin = [...(triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : []), '/lib', '/usr/lib'];
  // /lib64 and /usr/lib64 are where non-Debian sysroots keep 64-bit libraries.
  const defaults = [...(triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : []), ...(app.class === 64 ? ['/lib64', '/usr/lib64'] : []), '/lib', '/usr/lib'];
  const conf = await readLdSoConf(root);
  return {
    extra,
    system: [...conf.map((dir): SearchDir => ({ dir, via: 'ld.so.conf' })), ...defaults.map((dir): SearchDir => ({ dir, via: 'default' }))],
    builtin,
  };
}

function searchDirs(needer: Loaded, env: SearchEnvironment, isMusl: boolean): SearchDir[] {
  const dirs: SearchDir[] = [];
  const hasRunpath = (o: Loaded) => o.info.runpath.length > 0;
  if (isMusl) {
    for (let o: Loaded | undefined = needer; o; o = o.loadedBy) dirs.push(...expand(hasRunpath(o) ? o.info.runpath : o.info.rpath, o.origin, hasRunpath(o) ? 'runpath' : 'rpath'));
  } else {
    if (!hasRunpath(needer)) for (let o: Loaded | undefined = needer; o; o = o.loadedBy) if (!hasRunpath(o)) dirs.push(...expand(o.info.rpath, o.origin, 'rpath'));
    dirs.push(...expand(needer.info.runpath, needer.origin, 'runpath'));
  }
  dirs.push(...env.extra.map((dir): SearchDir => ({ dir, via: 'extra' })), ...env.system);
  const seen = new Set<string>();
  return dirs.filter((d) => {
    const key = `${d.dir}\0${d.host ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const ORIGIN = /\$\{ORIGIN\}|\$ORIGIN(?![A-Za-z0-9_])/g;

function expand(entries: string[], origin: Origin, via: LibrarySource): SearchDir[] {
  const out: SearchDir[] = [];
  for (const entry of entries) {
    const usesOrigin = entry.search(ORIGIN) !== -1;
    const dir = entry.replace(ORIGIN, origin.guest).replace(/\/+$/, '');
    if (dir.includes('$') || !dir.startsWith('/')) continue;
    out.push(usesOrigin && origin.host !== undefined ? { dir, host: entry.replace(ORIGIN, origin.host), via } : { dir, via });
  }
  return out;
}

interface Found {
  loaderPath: string;
  place: { path: string; links: GuestSymlink[] };
  hostPath: string;
  info: ElfInfo;
  origin: Origin;
  via: LibrarySource;
}

async function search(root: string, name: string, dirs: SearchDir[], app: ElfInfo, searched: string[]): Promise<Found | undefined> {
  if (name.includes('/')) {
    // A DT_NEEDED with a slash is opened as written, without any search.
    if (!name.startsWith('/')) {
      searched.push('nowhere: a relative path with a slash is opened from the working directory at run time');
      return undefined;
    }
    dirs = [{ dir: posix.dirname(name), via: 'direct' }];
    name = posix.basename(name);
  }
  for (const d of dirs) {
    searched.push(`${d.dir} (${d.via})`);
    const loaderPath = `${d.dir}/${name}`;
    let hostPath: string | undefined;
    if (d.host !== undefined) {
      hostPath = await realpath(`${d.host}/${name}`).catch(() => undefined);
    } else {
      const real = await resolveInRoot(root, loaderPath, true);
      if (real.exists) hostPath = join(root, real.path);
    }
    if (hostPath === undefined || !(await stat(hostPath).catch(() => undefined))?.isFile()) continue;
    const info = tryParse(hostPath);
    if (!info || info.type !== 'dyn' || info.class !== app.class || info.machine !== app.machine) {
      searched.push(`  skipped ${loaderPath}: ${info ? describe(info) : 'not an ELF file'}`);
      continue;
    }
    const place = await resolveInRoot(root, loaderPath, false);
    const origin: Origin = d.host !== undefined ? { guest: d.dir, host: posix.dirname(`${d.host}/${name}`) } : { guest: d.dir };
    return { loaderPath: posix.normalize(loaderPath), place, hostPath, info, origin, via: d.via };
  }
  return undefined;
}

function tryParse(path: string): ElfInfo | undefined {
  try {
    return parseElfFile(path);
  } catch (error) {
    if (isKilnError(error, ErrorCodes.APP_NOT_ELF)) return undefined;
    throw error;
  }
}

function describe(info: ElfInfo): string {
  return `${info.machineName} ELF${info.class} ${info.type === 'dyn' ? 'shared object' : info.type}`;
}

function notFound(missing: Missing[]): KilnError {
  const chain = (o: Loaded): string => (o.loadedBy ? `${o.display} (loaded for ${chain(o.loadedBy)})` : o.display);
  const first = missing[0]!;
  const more = missing.length > 1 ? ` (and ${missing.length - 1} more missing ${missing.length === 2 ? 'library' : 'libraries'})` : '';
  const details = missing.flatMap((m) => [`${m.name} is needed by ${chain(m.needer)}; searched:`, ...m.searched.map((s) => `  ${s}`)]);
  return new KilnError(ErrorCodes.LIBRARY_NOT_FOUND, `library ${first.name}, needed by ${first.needer.display}, was not found${more}`, {
    hint: `install the Debian package that ships ${first.name} ("apt-file search ${first.name}" tells which), or add the directory that holds it to the library search paths`,
    details,
  });
}

function compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
