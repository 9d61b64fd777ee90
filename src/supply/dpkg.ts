import { readFile, realpath } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { run } from '../util/exec.js';
import { dpkgOwnerIndex, type DpkgIndexOptions } from './dpkg-index.js';

/**
 * Which installed Debian package ships a host file, and that package's facts. Looks paths up
 * in an index of dpkg's own file lists (dpkg-index.ts, memoised in the kiln cache) instead of
 * running `dpkg -S` per file, and asks `dpkg-query` for versions and source packages in one call.
 */

export interface DpkgPackage {
  package: string;
  architecture: string;
  version: string;
  source: { package: string; version: string };
}

const SYSTEM_DIRS = ['/usr/', '/bin/', '/sbin/', '/lib', '/opt/', '/etc/', '/var/'];

/**
 * The package that ships `hostPath`. With merged /usr, dpkg may list a file under /lib while
 * the loader found it under /usr/lib (or the other way round), and either may be a symlink:
 * the path itself, its real path, and both with and without the /usr prefix are tried.
 */
export async function packageOwning(hostPath: string, options: DpkgIndexOptions = {}): Promise<string | undefined> {
  const real = await realpath(hostPath).catch(() => hostPath);
  // The directory may be a symlink (/lib -> usr/lib) while the file name is the one dpkg knows.
  const realDir = posix.join(await realpath(posix.dirname(hostPath)).catch(() => posix.dirname(hostPath)), posix.basename(hostPath));
  // Packages install only into system directories: an app in a build or home directory is
  // nobody's, and then dpkg's database (hundreds of files) need not be read at all.
  if (![hostPath, realDir, real].some((path) => SYSTEM_DIRS.some((dir) => path.startsWith(dir)))) return undefined;
  const index = await dpkgOwnerIndex(options);
  for (const path of [hostPath, realDir, real]) {
    for (const candidate of [path, path.startsWith('/usr/') ? path.slice(4) : `/usr${path}`]) {
      const owner = index.owner(candidate);
      if (owner) return owner;
    }
  }
  return undefined;
}

/** Facts of installed packages, by name; packages dpkg does not know are left out. */
export async function installedPackages(names: string[]): Promise<Map<string, DpkgPackage>> {
  const result = new Map<string, DpkgPackage>();
  if (names.length === 0) return result;
  const format = '${Package}\\t${Architecture}\\t${Version}\\t${source:Package}\\t${source:Version}\\t${db:Status-Abbrev}\\n';
  const out = await run('dpkg-query', ['-W', `-f=${format}`, ...names], { check: false });
  for (const line of out.stdout.split('\n')) {
    const [pkg, architecture, version, sourcePackage, sourceVersion, status] = line.split('\t');
    if (!pkg || !version || !status?.startsWith('i')) continue;
    result.set(pkg, { package: pkg, architecture: architecture ?? '', version, source: { package: sourcePackage || pkg, version: sourceVersion || version } });
  }
  return result;
}

/** /usr/share/doc/PKG/copyright of an installed package, when it has one. */
export async function copyrightFile(pkg: string, root = '/'): Promise<{ path: string; text: string } | undefined> {
  const path = join(root, 'usr/share/doc', pkg, 'copyright');
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : { path, text };
}

/** The host's Debian release (/etc/os-release), for purls and OSV's "Debian:12". */
export async function hostDistro(root = '/'): Promise<{ id: string; versionId?: string; codename?: string } | undefined> {
  const text = await readFile(join(root, 'etc/os-release'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line);
    if (match) fields.set(match[1]!, match[2]!.replace(/^"(.*)"$/, '$1'));
  }
  const id = fields.get('ID');
  if (!id) return undefined;
  const versionId = fields.get('VERSION_ID');
  const codename = fields.get('VERSION_CODENAME');
  return { id, ...(versionId ? { versionId } : {}), ...(codename ? { codename } : {}) };
}
