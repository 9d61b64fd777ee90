import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { loadImage } from '../../src/image/manifest.js';
import { diskTarget, efiTarget, qemuTarget } from '../../src/targets/registry.js';
import { run } from '../../src/util/exec.js';
import { sha256File } from '../../src/util/fs.js';
import { buildC, tempDir, testContext } from '../helpers.js';

/**
 * Secure Boot signing: bake --sign-key/--sign-cert signs the standalone UKI (kiln.efi, and the
 * copy on the disk's ESP) with sbsign; sbverify accepts it with that certificate and rejects
 * it with another. Booting it under Secure Boot is not tested: that needs an OVMF variable
 * store with the test certificate enrolled in db, and Debian 12 has no tool to write one.
 */
const { ctx } = testContext();

async function makeCert(dir: string, name: string): Promise<{ keyPath: string; certPath: string }> {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', `/CN=kiln test ${name}`, '-keyout', keyPath, '-out', certPath]);
  return { keyPath, certPath };
}

test('a signed efi or disk image carries a UKI that sbverify accepts with the signing certificate only', async () => {
  await run('sbverify', ['--help']).catch(() => assert.fail('sbsigntool is not installed' + ' — scripts/setup.sh installs it'));
  const work = await tempDir();
  const hello = await buildC(ctx, 'examples/hello/hello.c', work, 'hello');
  const signer = await makeCert(work, 'signer');
  const other = await makeCert(work, 'other');

  const efi = await loadImage((await bake(ctx, { appPath: hello, target: efiTarget, signing: signer }, join(work, 'signed.efi'))).dir);
  assert.deepEqual(efi.manifest.signing, { certSha256: await sha256File(signer.certPath) });
  const uki = join(efi.dir, 'kiln.efi');
  await run('sbverify', ['--cert', signer.certPath, uki]);
  await assert.rejects(run('sbverify', ['--cert', other.certPath, uki]));
  assert.equal(efi.manifest.artifacts!.find((artifact) => artifact.file === 'kiln.efi')!.sha256, await sha256File(uki));

  // The unsigned image is another image (another cache key), and its UKI has no signature.
  const plain = await loadImage((await bake(ctx, { appPath: hello, target: efiTarget }, join(work, 'plain.efi'))).dir);
  assert.equal(plain.manifest.signing, undefined);
  await assert.rejects(run('sbverify', ['--list', join(plain.dir, 'kiln.efi')]).then(({ stdout }) => (/signature 1/.test(stdout) ? undefined : Promise.reject(new Error('unsigned')))));

  // The disk's ESP holds the signed UKI at the default boot path.
  const disk = await loadImage((await bake(ctx, { appPath: hello, target: diskTarget, signing: signer }, join(work, 'signed.disk'))).dir);
  const bootx64 = join(work, 'BOOTX64.EFI');
  await run('mcopy', ['-i', `${join(disk.dir, 'disk.raw')}@@1048576`, '::/EFI/BOOT/BOOTX64.EFI', bootx64], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  await run('sbverify', ['--cert', signer.certPath, bootx64]);
  assert.equal(await sha256File(bootx64), await sha256File(join(disk.dir, 'kiln.efi')));

  await assert.rejects(bake(ctx, { appPath: hello, target: qemuTarget, signing: signer }, join(work, 'q')), { code: 'KILN_TARGET_CANNOT_CARRY' });
  await assert.rejects(bake(ctx, { appPath: hello, target: efiTarget, signing: { keyPath: signer.keyPath, certPath: signer.keyPath } }, join(work, 'bad')), { code: 'KILN_USAGE' });
});
