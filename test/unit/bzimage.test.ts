import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { detectCompression, isBzImage, parseBzImage } from '../../src/components/bzimage.js';
import { obtainKernel } from '../../src/components/index.js';
import { createContext } from '../../src/context.js';
import { configState, parseKernelConfig } from '../../src/components/kconfig.js';
import { isKilnError } from '../../src/errors.js';

const LZ4_MAGIC = [0x02, 0x21, 0x4c, 0x18];

/** A synthetic bzImage: boot sector + setup sectors + a payload, with the header fields we read. */
function fakeBzImage(options: { protocol?: number; setupSects?: number; version?: string; magic?: number[] } = {}): Buffer {
  const setupSects = options.setupSects ?? 4;
  const pm = (setupSects + 1) * 512;
  const payload = Buffer.concat([Buffer.from(options.magic ?? LZ4_MAGIC), Buffer.alloc(60), Buffer.from([0x00, 0x10, 0x00, 0x00])]); // ends with size 4096
  const image = Buffer.alloc(pm + 100 + payload.length);
  image[0x1f1] = setupSects;
  image.writeUInt16LE(0xaa55, 0x1fe);
  image.write('HdrS', 0x202, 'latin1');
  image.writeUInt16LE(options.protocol ?? 0x020f, 0x206);
  const version = options.version ?? '6.1.0-99-test-amd64 (someone@example) #1 SMP';
  image.write(`${version}\0`, 0x400, 'latin1'); // kernel_version points at 0x400 - 0x200
  image.writeUInt16LE(0x400 - 0x200, 0x20e);
  image.writeUInt32LE(0x200000, 0x230);
  image[0x234] = 1;
  image.writeUInt16LE(0x1, 0x236);
  image.writeUInt32LE(100, 0x248);
  image.writeUInt32LE(payload.length, 0x24c);
  image.writeBigUInt64LE(0x1000000n, 0x258);
  image.writeUInt32LE(51 * 1024 * 1024, 0x260);
  payload.copy(image, pm + 100);
  return image;
}

test('parseBzImage reads the boot protocol header', () => {
  const info = parseBzImage(fakeBzImage());
  assert.equal(info.protocol, '2.15');
  assert.equal(info.release, '6.1.0-99-test-amd64');
  assert.equal(info.versionString, '6.1.0-99-test-amd64 (someone@example) #1 SMP');
  assert.equal(info.initSize, 51 * 1024 * 1024);
  assert.equal(info.protectedModeOffset, 5 * 512);
  assert.equal(info.payloadOffset, 5 * 512 + 100);
  assert.equal(info.payloadLength, 68);
  assert.equal(info.compression, 'lz4');
  assert.equal(info.decompressedSize, 4096);
  assert.equal(info.relocatable, true);
  assert.equal(info.has64BitEntry, true);
  assert.equal(info.preferredAddress, 0x1000000);
});

test('setup_sects 0 means 4', () => {
  const image = fakeBzImage({ setupSects: 4 });
  image[0x1f1] = 0;
  assert.equal(parseBzImage(image).setupSectors, 4);
});

test('non-bzImages are KILN_KERNEL_INVALID', () => {
  const elf = Buffer.alloc(4096);
  elf.write('\x7fELF', 0, 'latin1');
  assert.equal(isBzImage(elf), false);
  assert.throws(() => parseBzImage(elf, 'vmlinux'), (error) => isKilnError(error, 'KILN_KERNEL_INVALID') && /vmlinux/.test(error.message));
  assert.throws(() => parseBzImage(Buffer.alloc(10)), (error) => isKilnError(error, 'KILN_KERNEL_INVALID'));
  assert.throws(() => parseBzImage(fakeBzImage({ protocol: 0x0204 })), (error) => isKilnError(error, 'KILN_KERNEL_INVALID') && /2\.4/.test(error.message));
  const truncated = fakeBzImage().subarray(0, 5 * 512 + 50);
  assert.throws(() => parseBzImage(truncated), (error) => isKilnError(error, 'KILN_KERNEL_INVALID') && /payload/.test(error.message));
});

test('detectCompression knows every kernel compressor', () => {
  const cases: [string, number[]][] = [
    ['gzip', [0x1f, 0x8b, 0x08]],
    ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
    ['lz4', LZ4_MAGIC],
    ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
    ['bzip2', [0x42, 0x5a, 0x68, 0x39]],
    ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
    ['lzma', [0x5d, 0x00, 0x00, 0x80]],
    ['unknown', [0x00, 0x11, 0x22, 0x33]],
  ];
  for (const [kind, magic] of cases) {
    assert.equal(detectCompression(Buffer.from(magic)), kind);
    assert.equal(parseBzImage(fakeBzImage({ magic })).compression, kind);
  }
});

test('parseKernelConfig keeps y/m/strings and records "is not set" as n', () => {
  const config = parseKernelConfig(
    ['# comment', 'CONFIG_EXT4_FS=y', 'CONFIG_VIRTIO_NET=m', 'CONFIG_RTC_HCTOSYS_DEVICE="rtc0"', '# CONFIG_IP_PNP is not set', 'CONFIG_NR_CPUS=8192', ''].join('\n'),
  );
  assert.deepEqual(config, { CONFIG_EXT4_FS: 'y', CONFIG_VIRTIO_NET: 'm', CONFIG_RTC_HCTOSYS_DEVICE: 'rtc0', CONFIG_IP_PNP: 'n', CONFIG_NR_CPUS: '8192' });
  assert.equal(configState(config, 'EXT4_FS'), 'y');
  assert.equal(configState(config, 'CONFIG_VIRTIO_NET'), 'm');
  assert.equal(configState(config, 'IP_PNP'), 'n');
  assert.equal(configState(config, 'NOT_THERE'), 'n');
});

// The real Debian kernel, downloaded once into the shared test cache.
const sharedCache = process.env.KILN_CACHE_DIR ?? join(homedir(), '.cache/kiln-test');

test('the Debian cloud kernel is an LZ4 bzImage with a 2.15 header', async () => {
  const kernel = await obtainKernel(createContext({ paths: { cache: sharedCache, state: join(sharedCache, 'state') } }), {});
  const dir = dirname(kernel.kernelPath);
  const info = parseBzImage(await readFile(join(dir, 'vmlinuz')));
  assert.equal(info.release, kernel.release);
  assert.equal(info.compression, 'lz4');
  assert.ok(info.protocolVersion >= 0x020f);
  // ~51.5 MiB on 6.1 cloud kernels; the guest RAM floor follows from it.
  assert.ok(info.initSize > 32 * 1024 * 1024 && info.initSize < 128 * 1024 * 1024, `initSize ${info.initSize}`);
  assert.ok(info.decompressedSize! > info.payloadLength);
  const config = parseKernelConfig(await readFile(join(dir, 'config'), 'utf8'));
  assert.equal(configState(config, 'KERNEL_LZ4'), 'y');
});
