import { readFile } from 'node:fs/promises';
import { KilnError, ErrorCodes } from '../errors.js';
import { parseElf, readSection } from '../rootfs/elf.js';
import { decompressFile } from './decompress.js';

/**
 * Reading one kernel module file: its `.modinfo` section is a run of NUL-terminated
 * "key=value" strings (name=, depends=, alias=, softdep=, vermagic=, ...), the same data
 * `modinfo` and depmod use. We read it ourselves so kiln needs neither kmod nor a
 * modules.dep (Debian's kernel package ships none).
 */
export interface ModinfoFields {
  name: string | undefined;
  depends: string[];
  aliases: string[];
  softdeps: { pre: string[]; post: string[] };
  vermagic: string | undefined;
}

/** The kernel treats '-' and '_' in module names as the same character; we store '_'. */
export function normaliseModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/** "kernel/drivers/char/hw_random/virtio-rng.ko.xz" -> "virtio_rng" */
export function moduleNameFromPath(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return normaliseModuleName(base.replace(/\.ko(\.(xz|zst|gz))?$/, ''));
}

export function parseModinfo(section: Buffer): ModinfoFields {
  const fields: ModinfoFields = { name: undefined, depends: [], aliases: [], softdeps: { pre: [], post: [] }, vermagic: undefined };
  for (const entry of section.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue; // padding between entries, or a malformed one
    const key = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    if (key === 'name') fields.name = normaliseModuleName(value);
    else if (key === 'depends') fields.depends.push(...splitList(value, ','));
    else if (key === 'alias') fields.aliases.push(value);
    else if (key === 'vermagic') fields.vermagic = value.trim();
    else if (key === 'softdep') addSoftdeps(fields.softdeps, value);
  }
  return fields;
}

/** softdep= is "pre: a b post: c"; a list without a "pre:"/"post:" label counts as pre. */
function addSoftdeps(into: { pre: string[]; post: string[] }, value: string): void {
  let list = into.pre;
  for (const word of value.split(/\s+/).filter(Boolean)) {
    if (word === 'pre:') list = into.pre;
    else if (word === 'post:') list = into.post;
    else list.push(normaliseModuleName(word));
  }
}

function splitList(value: string, separator: string): string[] {
  return value
    .split(separator)
    .map((part) => part.trim())
    .filter(Boolean)
    .map(normaliseModuleName);
}

/**
 * Reads a module file, decompressing it if the kernel build compressed modules
 * (CONFIG_MODULE_COMPRESS_*). Debian 12 ships plain .ko; later kernels may ship .ko.xz or
 * .ko.zst: those go through Debian's own xz-utils / zstd, gzip through Node's zlib.
 */
export async function readModuleFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  if (path.endsWith('.ko.gz')) return decompressFile(path, 'gzip', env);
  if (path.endsWith('.ko.xz')) return decompressFile(path, 'xz', env);
  if (path.endsWith('.ko.zst')) return decompressFile(path, 'zstd', env);
  return readFile(path);
}

/** The module's .modinfo fields; undefined if it has no .modinfo (then only its file name is known). */
export async function readModinfo(path: string, env?: NodeJS.ProcessEnv): Promise<ModinfoFields | undefined> {
  const data = await readModuleFile(path, env);
  let section: Buffer | undefined;
  try {
    section = readSection(data, parseElf(data, path), '.modinfo');
  } catch (error) {
    // A module that is not ELF would make every closure through it wrong: fail loudly.
    throw new KilnError(ErrorCodes.KERNEL_INVALID, `${path} is not a readable kernel module`, { cause: error });
  }
  return section ? parseModinfo(section) : undefined;
}
