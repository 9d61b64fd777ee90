import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { isElf, parseElf, type ElfInfo } from '../rootfs/elf.js';
import { publishDirectory, sha256 } from '../util/fs.js';
import { parseBzImage } from './bzimage.js';
import { decompressFile } from './decompress.js';
import type { KernelComponents } from './types.js';

/**
 * Facts about an uncompressed ELF vmlinux that the rootfs ELF reader does not give: the
 * release (from the kernel's banner) and how much memory its loadable segments span.
 */

/** The banner linux_banner[] = "Linux version <release> (<builder>) ..." is in every vmlinux. */
export function vmlinuxRelease(image: Buffer): string | undefined {
  const marker = Buffer.from('Linux version ', 'latin1');
  for (let at = image.indexOf(marker); at >= 0; at = image.indexOf(marker, at + 1)) {
    const start = at + marker.length;
    const end = image.indexOf(0x20, start);
    const release = end > start && end - start < 128 ? image.toString('latin1', start, end) : '';
    // Skip format strings such as "Linux version %s": the real banner starts with a digit.
    if (/^\d+\.\d+[\w.+~-]*$/.test(release)) return release;
  }
  return undefined;
}

const PT_LOAD = 1;

/**
 * Bytes between the lowest and highest physical address of the PT_LOAD segments: the
 * memory the kernel occupies once loaded (the vmlinux counterpart of a bzImage's init_size,
 * minus the decompressor's needs). 64-bit little-endian ELF only, as x86_64 and arm64 are.
 */
export function vmlinuxLoadSpan(image: Buffer, info: ElfInfo): number {
  if (info.class !== 64 || info.endian !== 'le') return 0;
  const phoff = Number(image.readBigUInt64LE(0x20));
  const phentsize = image.readUInt16LE(0x36);
  const phnum = image.readUInt16LE(0x38);
  let low = Infinity;
  let high = 0;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 56 > image.length || image.readUInt32LE(at) !== PT_LOAD) continue;
    const paddr = Number(image.readBigUInt64LE(at + 0x18));
    const memsz = Number(image.readBigUInt64LE(at + 0x28));
    low = Math.min(low, paddr);
    high = Math.max(high, paddr + memsz);
  }
  return high > low ? high - low : 0;
}

/**
 * The uncompressed vmlinux inside a bzImage (what QEMU's PVH boot on microvm wants), written
 * once to <cache>/vmlinux/<kernelSha256>/vmlinux. The bzImage payload is the compressed
 * vmlinux followed by its size (u32); it is decompressed with the matching Debian tool and
 * checked: the size must match and the result must be an ELF executable of the same release.
 */
export async function extractVmlinux(ctx: Context, kernel: KernelComponents): Promise<{ path: string; sha256: string }> {
  if (kernel.format === 'vmlinux') return { path: kernel.kernelPath, sha256: kernel.kernelSha256 };
  const dir = join(ctx.paths.cache, 'vmlinux', kernel.kernelSha256);
  const path = join(dir, 'vmlinux');
  const known = await readFile(join(dir, 'sha256'), 'utf8').catch(() => undefined);
  ctx.reporter.emit({ type: 'cache', what: 'vmlinux', hit: known !== undefined, key: kernel.kernelSha256 });
  if (known) return { path, sha256: known.trim() };

  const image = await readFile(kernel.kernelPath);
  const setup = kernel.setup ?? parseBzImage(image, kernel.kernelPath);
  const format = setup.compression;
  if (format !== 'gzip' && format !== 'xz' && format !== 'zstd' && format !== 'lz4') {
    throw new KilnError(ErrorCodes.KERNEL_INVALID, `${kernel.kernelPath} is ${format}-compressed; kiln can extract gzip, xz, zstd and lz4 kernels`);
  }
  await publishDirectory(dir, async (tmp) => {
    const payload = join(tmp, 'payload');
    await writeFile(payload, image.subarray(setup.payloadOffset, setup.payloadOffset + setup.payloadLength - 4));
    const vmlinux = await decompressFile(payload, format, ctx.env);
    await rm(payload);
    const bad = (why: string) => new KilnError(ErrorCodes.KERNEL_INVALID, `the vmlinux extracted from ${kernel.kernelPath} ${why}`);
    if (setup.decompressedSize !== undefined && vmlinux.length !== setup.decompressedSize) throw bad(`is ${vmlinux.length} bytes, the header says ${setup.decompressedSize}`);
    if (!isElf(vmlinux) || parseElf(vmlinux, 'vmlinux').type !== 'exec') throw bad('is not an ELF executable');
    if (vmlinuxRelease(vmlinux) !== kernel.release) throw bad(`is not release ${kernel.release}`);
    await writeFile(join(tmp, 'vmlinux'), vmlinux);
    await writeFile(join(tmp, 'sha256'), `${sha256(vmlinux)}\n`);
    await chmod(tmp, 0o755);
  });
  return { path, sha256: (await readFile(join(dir, 'sha256'), 'utf8')).trim() };
}
