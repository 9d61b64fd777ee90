import { KilnError, ErrorCodes } from '../errors.js';

/**
 * Reads the x86 boot protocol header of a bzImage (Documentation/arch/x86/boot.rst in the
 * kernel tree). Pure: works on a Buffer, so it is testable with synthetic headers.
 *
 * What kiln needs from it: `initSize` (the guest RAM floor: the decompressed kernel must fit),
 * the version string (the module directory is named after its first word) and where the
 * compressed payload is, with its compression, so a vmlinux can be extracted later.
 */
export type KernelCompression = 'gzip' | 'bzip2' | 'lzma' | 'xz' | 'lzo' | 'lz4' | 'zstd' | 'unknown';

export interface BzImageInfo {
  /** Boot protocol version as "major.minor", e.g. "2.15". */
  protocol: string;
  /** Raw 16-bit protocol version (0x020f for 2.15), handy for >= comparisons. */
  protocolVersion: number;
  /** Number of 512-byte setup sectors after the boot sector. */
  setupSectors: number;
  /** File offset where the protected-mode (32/64-bit) code starts. */
  protectedModeOffset: number;
  /** Full version string, e.g. "6.1.0-56-cloud-amd64 (debian-kernel@...) #1 SMP ...". */
  versionString: string;
  /** First word of versionString: the `uname -r` release, e.g. "6.1.0-56-cloud-amd64". */
  release: string;
  /** Bytes of memory the kernel needs, linearly, to decompress and start (header 0x260). */
  initSize: number;
  /** Compressed payload: absolute file offset and length. */
  payloadOffset: number;
  payloadLength: number;
  compression: KernelCompression;
  /** Size of the decompressed vmlinux (the little-endian u32 the kernel build appends to the payload). */
  decompressedSize: number | undefined;
  relocatable: boolean;
  /** xloadflags bit 0: the image has a 64-bit entry point at 0x200 past the protected-mode start. */
  has64BitEntry: boolean;
  kernelAlignment: number;
  /** Where a non-relocated kernel would be loaded (a number: JSON-safe, always < 2^53). */
  preferredAddress: number;
}

// Offsets into the "real-mode kernel header" (struct setup_header lives at 0x1f1).
const OFF_SETUP_SECTS = 0x1f1;
const OFF_BOOT_FLAG = 0x1fe;
const OFF_HEADER_MAGIC = 0x202;
const OFF_VERSION = 0x206;
const OFF_KERNEL_VERSION = 0x20e;
const OFF_KERNEL_ALIGNMENT = 0x230;
const OFF_RELOCATABLE = 0x234;
const OFF_XLOADFLAGS = 0x236;
const OFF_PAYLOAD_OFFSET = 0x248;
const OFF_PAYLOAD_LENGTH = 0x24c;
const OFF_PREF_ADDRESS = 0x258;
const OFF_INIT_SIZE = 0x260;
/** Protocol 2.08 added payload_offset/length; 2.10 added init_size and pref_address. */
const MIN_PROTOCOL = 0x020a;
const HEADER_END = 0x264;

/** Magic bytes at the start of each compressed payload format the kernel can decompress itself. */
const COMPRESSION_MAGIC: ReadonlyArray<[KernelCompression, number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['lz4', [0x02, 0x21, 0x4c, 0x18]], // LZ4 "legacy" frame, which is what the kernel's lz4 uses
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
  ['lzma', [0x5d, 0x00, 0x00]],
];

export function detectCompression(data: Buffer, offset = 0): KernelCompression {
  for (const [kind, magic] of COMPRESSION_MAGIC) {
    if (offset + magic.length <= data.length && magic.every((byte, i) => data[offset + i] === byte)) return kind;
  }
  return 'unknown';
}

/** Cheap test used to tell a bzImage from an ELF vmlinux without throwing. */
export function isBzImage(data: Buffer): boolean {
  return (
    data.length >= HEADER_END &&
    data.readUInt16LE(OFF_BOOT_FLAG) === 0xaa55 &&
    data.toString('latin1', OFF_HEADER_MAGIC, OFF_HEADER_MAGIC + 4) === 'HdrS'
  );
}

export function parseBzImage(data: Buffer, label = 'kernel image'): BzImageInfo {
  const invalid = (why: string) =>
    new KilnError(ErrorCodes.KERNEL_INVALID, `${label} is not a usable x86 bzImage: ${why}`, {
      hint: 'pass a bzImage (e.g. /boot/vmlinuz-*) or an uncompressed ELF vmlinux',
    });
  if (!isBzImage(data)) throw invalid('no "HdrS" boot header');

  const protocolVersion = data.readUInt16LE(OFF_VERSION);
  const protocol = `${protocolVersion >> 8}.${protocolVersion & 0xff}`;
  if (protocolVersion < MIN_PROTOCOL) throw invalid(`boot protocol ${protocol} is older than 2.10`);

  // setup_sects == 0 means 4, for compatibility with ancient images.
  const setupSectors = data[OFF_SETUP_SECTS] || 4;
  const protectedModeOffset = (setupSectors + 1) * 512;
  if (protectedModeOffset >= data.length) throw invalid('setup sectors run past the end of the file');

  const versionString = readKernelVersion(data, protectedModeOffset);
  const release = versionString.split(' ')[0] ?? '';
  if (!release) throw invalid('no kernel version string');

  // payload_offset is relative to the start of the protected-mode code.
  const payloadOffset = protectedModeOffset + data.readUInt32LE(OFF_PAYLOAD_OFFSET);
  const payloadLength = data.readUInt32LE(OFF_PAYLOAD_LENGTH);
  if (payloadLength === 0 || payloadOffset + payloadLength > data.length) throw invalid('payload lies outside the file');
  const compression = detectCompression(data, payloadOffset);
  // Every compressor the kernel supports gets the uncompressed size appended (u32 LE).
  const decompressedSize = payloadLength >= 4 ? data.readUInt32LE(payloadOffset + payloadLength - 4) : undefined;

  return {
    protocol,
    protocolVersion,
    setupSectors,
    protectedModeOffset,
    versionString,
    release,
    initSize: data.readUInt32LE(OFF_INIT_SIZE),
    payloadOffset,
    payloadLength,
    compression,
    decompressedSize,
    relocatable: data[OFF_RELOCATABLE] !== 0,
    has64BitEntry: (data.readUInt16LE(OFF_XLOADFLAGS) & 1) !== 0,
    kernelAlignment: data.readUInt32LE(OFF_KERNEL_ALIGNMENT),
    preferredAddress: Number(data.readBigUInt64LE(OFF_PREF_ADDRESS)),
  };
}

/** kernel_version is a pointer relative to 0x200 to a NUL-terminated string in the setup code. */
function readKernelVersion(data: Buffer, limit: number): string {
  const pointer = data.readUInt16LE(OFF_KERNEL_VERSION);
  if (pointer === 0) return '';
  const start = pointer + 0x200;
  if (start >= limit) return '';
  const end = data.indexOf(0, start);
  if (end < 0 || end > limit) return '';
  return data.toString('latin1', start, end);
}
