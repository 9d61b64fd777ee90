import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Context } from '../context.js';
import { canonicalJson, sha256, writeFileAtomically } from '../util/fs.js';
import { kernelEntryDir } from './cache.js';
import { moduleNameFromPath, normaliseModuleName, readModinfo } from './modinfo.js';
import type { KernelComponents } from './types.js';

/**
 * The module index: every module of one kernel, by normalised name, with what it depends
 * on. Built from each .ko's own `.modinfo` (no depmod, no modules.dep) plus modules.builtin,
 * so a dependency on something compiled into the kernel counts as satisfied.
 */
export interface ModuleInfo {
  /** Normalised ('_' not '-'), as the kernel names it. */
  name: string;
  /** Relative to the modules dir (lib/modules/<release>); for built-ins, the path modules.builtin gives. */
  path: string;
  depends: string[];
  builtin: boolean;
  aliases: string[];
  /** Optional companions modprobe would load; names may be aliases (e.g. "crypto-crc32c"). */
  softdeps: { pre: string[]; post: string[] };
}

export interface ModuleIndex {
  release: string;
  modules: ReadonlyMap<string, ModuleInfo>;
}

/** Bump when ModuleInfo changes, so stale cached indexes are rebuilt rather than misread. */
export const MODULE_INDEX_FORMAT = 1;
export const MODULE_INDEX_FILE = 'modules.index.json';
const MODULE_FILE = /\.ko(\.(xz|zst|gz))?$/;
const READ_CONCURRENCY = 16;

export function getModule(index: ModuleIndex, name: string): ModuleInfo | undefined {
  return index.modules.get(normaliseModuleName(name));
}

/** Reads every module under `<modulesDir>/kernel` and the modules.builtin list. */
export async function buildModuleIndex(modulesDir: string, env?: NodeJS.ProcessEnv): Promise<ModuleIndex> {
  const modules = new Map<string, ModuleInfo>();
  const files = (await listModuleFiles(modulesDir)).sort();
  const infos = await mapLimit(files, READ_CONCURRENCY, async (path) => ({ path, modinfo: await readModinfo(join(modulesDir, path), env) }));
  for (const { path, modinfo } of infos) {
    const name = modinfo?.name ?? moduleNameFromPath(path);
    modules.set(name, {
      name,
      path,
      depends: [...new Set(modinfo?.depends ?? [])],
      builtin: false,
      aliases: modinfo?.aliases ?? [],
      softdeps: modinfo?.softdeps ?? { pre: [], post: [] },
    });
  }
  for (const path of await readBuiltinList(modulesDir)) {
    const name = moduleNameFromPath(path);
    modules.set(name, { name, path, depends: [], builtin: true, aliases: [], softdeps: { pre: [], post: [] } });
  }
  return { release: basename(modulesDir), modules };
}

export function serializeModuleIndex(index: ModuleIndex): string {
  const modules = [...index.modules.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return canonicalJson({ format: MODULE_INDEX_FORMAT, release: index.release, modules });
}

/** Returns undefined for anything that is not a current-format index, so callers rebuild. */
export function parseModuleIndex(text: string): ModuleIndex | undefined {
  try {
    const data = JSON.parse(text) as { format?: unknown; release?: unknown; modules?: unknown };
    if (data.format !== MODULE_INDEX_FORMAT || typeof data.release !== 'string' || !Array.isArray(data.modules)) return undefined;
    const modules = new Map<string, ModuleInfo>();
    for (const module of data.modules as ModuleInfo[]) modules.set(module.name, module);
    return { release: data.release, modules };
  } catch {
    return undefined;
  }
}

/**
 * The index for a kernel, from the cache when possible. A Debian kernel's entry is immutable
 * and keyed by the .deb's hash, so its index lives inside the entry. A local modules dir can
 * change under us, so its cache key also covers every module file's path, size and mtime.
 */
export async function loadModuleIndex(ctx: Context, kernel: KernelComponents): Promise<ModuleIndex> {
  if (!kernel.modulesDir) return { release: kernel.release, modules: new Map() };
  const modulesDir = kernel.modulesDir;
  let indexPath: string;
  let key: string;
  if (kernel.source.kind === 'debian') {
    key = kernel.source.sha256;
    indexPath = join(kernelEntryDir(ctx.paths.cache, key), MODULE_INDEX_FILE);
  } else {
    key = await localIndexKey(kernel.kernelSha256, modulesDir);
    indexPath = join(ctx.paths.cache, 'module-index', `${key}.json`);
  }
  const cached = await readFile(indexPath, 'utf8').then(parseModuleIndex, () => undefined);
  ctx.reporter.emit({ type: 'cache', what: 'module-index', hit: cached !== undefined, key });
  if (cached) return cached;
  const index = await buildModuleIndex(modulesDir, ctx.env);
  await writeFileAtomically(indexPath, serializeModuleIndex(index));
  return index;
}

async function localIndexKey(kernelSha256: string, modulesDir: string): Promise<string> {
  const files = [...(await listModuleFiles(modulesDir)), 'modules.builtin'].sort();
  const stamps = await Promise.all(
    files.map(async (path) => {
      const info = await stat(join(modulesDir, path)).catch(() => undefined);
      return info ? `${path}\t${info.size}\t${info.mtimeMs}` : `${path}\t-`;
    }),
  );
  return sha256(canonicalJson({ format: MODULE_INDEX_FORMAT, kernelSha256, modulesDir: await realpath(modulesDir), stamps }));
}

/** Paths (relative to modulesDir) of all module files under kernel/, compressed or not. */
async function listModuleFiles(modulesDir: string): Promise<string[]> {
  const root = join(modulesDir, 'kernel');
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !MODULE_FILE.test(entry.name)) continue;
    // Dirent.parentPath is Node >= 20.12; `path` is its older name, same value.
    const parent = (entry as { parentPath?: string }).parentPath ?? entry.path;
    out.push(join('kernel', parent.slice(root.length + 1), entry.name));
  }
  return out;
}

async function readBuiltinList(modulesDir: string): Promise<string[]> {
  const text = await readFile(join(modulesDir, 'modules.builtin'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** Like Promise.all over `items.map(fn)` but with at most `limit` calls in flight. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
