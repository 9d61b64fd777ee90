import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bake } from '../../src/bake/index.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { launchCaptured, tempDir, testContext } from '../helpers.js';

const { ctx } = testContext();

test('an app that runs other programs: --program carries them with their libraries, the app finds them', async () => {
  const out = await tempDir();
  // The host's shell runs the host's ls (both dynamic, glibc): the image carries ls and its libraries.
  const image = await bake(ctx, { appPath: '/bin/sh', target: qemuTarget, args: ['-c', 'ls -d /kiln /usr/bin/ls && exit 3'], programs: ['/usr/bin/ls'] }, `${out}/sh.img`);
  const program = image.manifest.files.find((f) => f.path === '/usr/bin/ls');
  assert.equal(program?.role, 'program');
  // ls needs libselinux, which the shell does not: the program's own libraries came with it.
  assert.ok(image.manifest.files.some((f) => f.role === 'library' && f.path.includes('libselinux')), 'libselinux (for ls)');
  const result = await launchCaptured(ctx, { imageDir: image.dir, network: 'none' });
  assert.equal(result.exitCode, 3, result.output);
  assert.match(result.output, /\/kiln\s+\/usr\/bin\/ls/);
});

test('a program that is not an executable of the image architecture is refused before anything is written', async () => {
  const out = await tempDir();
  await assert.rejects(
    bake(ctx, { appPath: '/bin/sh', target: qemuTarget, programs: ['/etc/passwd'] }, `${out}/bad.img`),
    (error: Error & { code?: string }) => error.code === 'KILN_APP_NOT_ELF',
  );
  await assert.rejects(
    bake(ctx, { appPath: '/bin/sh', target: qemuTarget, programs: ['/no/such/program'] }, `${out}/bad.img`),
    (error: Error & { code?: string }) => error.code === 'KILN_APP_NOT_FOUND',
  );
});
