import { gunzipSync } from 'node:zlib';
import { KilnError, ErrorCodes } from '../errors.js';

/**
 * Reads the header of an arm64 kernel Image (Documentation/arch/arm64/booting.rst): 64 bytes
 * with the image's in-memory size and the magic "ARM\x64" at offset 56. Debian's arm64
 * /boot/vmlinuz-* is this Image, uncompressed (with an EFI stub, so it is a PE file too);
 * other distributions gzip it, which QEMU's -kernel also accepts on the virt machine, so both
 * are read here. Pure: works on a Buffer.
 *
 * Unlike a bzImage the header holds no version string: the release is taken from the kernel's
 * banner ("Linux version 6.1.0-56-cloud-arm64 (...)"), which is stored uncompressed in the
 * Image's read-only data.
 */
export const ARM64_IMAGE_MAGIC = 0x644d5241; // "ARM\x64", little-endian
const HEADER_SIZE = 64;
const BANNER = Buffer.from('Linux version ', 'latin1');

export interface Arm64ImageInfo {
  /** Whether the file was gzip-compressed (the header was read from the decompressed bytes). */
  compressed: boolean;
  /** Bytes of memory the kernel occupies once loaded (header image_size, including BSS). */
  imageSize: number;
  textOffset: number;
  /** e.g. "6.1.0-56-cloud-arm64 (debian-kernel@lists.debian.org) ..." */
  versionString: string;
  release: string;
  littleEndian: boolean;
}

export function isArm64Image(data: Buffer): boolean {
  const image = isGzip(data) ? safeGunzip(data) : data;
  return !!image && image.length >= HEADER_SIZE && image.readUInt32LE(56) === ARM64_IMAGE_MAGIC;
}

export function parseArm64Image(data: Buffer, name = 'kernel'): Arm64ImageInfo {
  const invalid = (why: string) => new KilnError(ErrorCodes.KERNEL_INVALID, `${name} is not an arm64 kernel Image: ${why}`);
  const compressed = isGzip(data);
  const image = compressed ? safeGunzip(data) : data;
  if (!image) throw invalid('its gzip stream is damaged');
  if (image.length < HEADER_SIZE) throw invalid('too short for the 64-byte header');
  if (image.readUInt32LE(56) !== ARM64_IMAGE_MAGIC) throw invalid('no "ARM\\x64" magic at offset 56');
  const imageSize = Number(image.readBigUInt64LE(16));
  const textOffset = Number(image.readBigUInt64LE(8));
  const flags = image.readBigUInt64LE(24);
  // image_size 0 marks kernels older than 3.17, which kiln cannot size memory for.
  if (imageSize === 0) throw invalid('image_size is 0 (a kernel older than 3.17)');
  const at = image.indexOf(BANNER);
  if (at < 0) throw invalid('no "Linux version" banner');
  const end = image.indexOf(0, at);
  const versionString = image.toString('latin1', at + BANNER.length, end < 0 ? at + 256 : end).trim();
  const release = versionString.split(' ')[0] ?? '';
  if (!release) throw invalid('an empty version string');
  return { compressed, imageSize, textOffset, versionString, release, littleEndian: (flags & 1n) === 0n };
}

function isGzip(data: Buffer): boolean {
  return data.length > 2 && data[0] === 0x1f && data[1] === 0x8b;
}

function safeGunzip(data: Buffer): Buffer | undefined {
  try {
    return gunzipSync(data);
  } catch {
    return undefined;
  }
}
