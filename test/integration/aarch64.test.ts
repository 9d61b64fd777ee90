import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { loadImage } from '../../src/image/manifest.js';
import { getTarget } from '../../src/targets/registry.js';
import { installToolchain } from '../../src/toolchain/install.js';
import { readProvenance } from '../../src/toolchain/provenance.js';
import { verifyToolchain } from '../../src/toolchain/verify.js';
import { bootCheck } from '../../src/launch/boot-check.js';
import { parseElfFile, EM_AARCH64 } from '../../src/rootfs/elf.js';
import { requireProgram, run } from '../../src/util/exec.js';
import { fetchFromGuest, launchCaptured, tempDir, testContext } from '../helpers.js';

/**
 * aarch64 end to end on an x86_64 host: a C program cross-built with aarch64-kiln-linux-musl-gcc
 * (Debian's cross gcc + musl-dev:arm64, downloaded), baked with Debian's arm64 cloud kernel
 * (the app's ELF machine picks the architecture) and booted on QEMU's virt board under TCG;
 * the app's output and exit status come back through the console and the status channel.
 * Needs gcc-aarch64-linux-gnu, binutils-aarch64-linux-gnu, qemu-system-arm and apt lists for
 * arm64 (scripts/setup.sh): a missing piece fails the test with its package named.
 */

const TUPLE = 'aarch64-kiln-linux-musl';
const { ctx } = testContext();

const HELLO = `#include <stdio.h>
int main(int argc, char **argv) {
  for (int i = 0; i < argc; i++) printf("arg[%d]=%s\\n", i, argv[i]);
  printf("hello from aarch64\\n");
  return 3;
}
`;

test('aarch64: cross-build a C program, bake it with the arm64 cloud kernel, boot it under TCG, get its output and exit status', async () => {
  await requireProgram('qemu-system-aarch64', ctx.env);
  const work = await tempDir('kiln-aarch64-');
  const toolchain = await installToolchain(ctx, { tuples: [TUPLE] });
  assert.deepEqual(toolchain.tuples.map((t) => t.tuple), [TUPLE], `the ${TUPLE} toolchain is missing: ${toolchain.skipped.join('; ')}`);
  assert.match(toolchain.tuples[0]!.libc, /^musl-dev:arm64 \S+ \(sha256 [0-9a-f]{64}\)$/);
  const gcc = join(toolchain.binDir, `${TUPLE}-gcc`);
  assert.equal((await run(gcc, ['-dumpmachine'])).stdout.trim(), TUPLE);

  const source = join(work, 'hello.c');
  const app = join(work, 'hello');
  await writeFile(source, HELLO);
  await run(gcc, ['-O2', source, '-o', app]);
  const elf = parseElfFile(app);
  assert.equal(elf.machine, EM_AARCH64);
  assert.equal(elf.isStatic, true, 'static by default, like the x86_64 musl tuple');
  assert.equal(readProvenance(app)?.tuple, TUPLE);

  // A mismatched --arch is refused before anything is fetched.
  await assert.rejects(bake(ctx, { appPath: app, target: getTarget('qemu'), arch: 'x86_64' }), { code: 'KILN_APP_WRONG_ARCH' });

  // The target is picked by name only (x86_64 by default): the app's ELF machine makes it aarch64.
  const baked = await bake(ctx, { appPath: app, target: getTarget('qemu'), args: ['baked'] }, join(work, 'hello.img'));
  const { manifest } = await loadImage(baked.dir);
  assert.equal(manifest.arch, 'aarch64');
  assert.equal(manifest.target, 'qemu');
  assert.match(manifest.kernel.release, /-cloud-arm64$/);
  assert.match(manifest.cmdline, /console=ttyAMA0/);
  assert.equal(manifest.app.provenance?.tuple, TUPLE);
  assert.ok(manifest.modules.some((m) => m.name === 'virtio_net'), 'the arm64 virtio-net module closure is carried');

  const started = Date.now();
  const result = await launchCaptured(ctx, { imageDir: baked.dir, args: ['one', 'two words'], timeoutSeconds: 180 });
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`# aarch64 TCG boot to exit: ${seconds.toFixed(2)} s (first console output ${result.timings.firstOutputMs} ms)\n`);
  assert.deepEqual(result.report, { kind: 'exited', code: 3 }, `console:\n${result.output}`);
  assert.equal(result.exitCode, 3);
  assert.equal(result.accel?.accel, 'tcg');
  assert.match(result.output, /arg\[0\]=\/app\/hello\narg\[1\]=one\narg\[2\]=two words\nhello from aarch64\n/);
  assert.doesNotMatch(result.output, /cma: Failed/);
});

test('aarch64: kiln toolchain check --boot runs the check program under qemu-system-aarch64', async () => {
  const toolchain = await installToolchain(ctx, { tuples: [TUPLE] });
  const verdict = await verifyToolchain(ctx, toolchain, { tuple: TUPLE, boot: bootCheck(ctx), force: true });
  assert.equal(verdict.ok, true, JSON.stringify(verdict.steps));
  assert.deepEqual(verdict.ranOn, ['image'], 'an aarch64 program does not run on the x86_64 host: only under QEMU');
  assert.match(verdict.steps.find((s) => s.step === 'run')!.detail, /not run on the host/);
  assert.match(verdict.compiler, /aarch64-linux-gnu-gcc/);
});

test('aarch64: the HTTP example answers through -p (virtio-net on virt), and the GPIO power button stops it cleanly', async () => {
  const work = await tempDir('kiln-aarch64-http-');
  const toolchain = await installToolchain(ctx, { tuples: [TUPLE] });
  const server = join(work, 'server');
  await run(join(toolchain.binDir, `${TUPLE}-gcc`), ['-O2', 'examples/http/server.c', '-o', server]);
  const image = await bake(ctx, { appPath: server, target: getTarget('qemu') }, join(work, 'http.img'));
  const { page, result } = await fetchFromGuest(ctx, { imageDir: image.dir, hostname: 'arm-web', verbose: true });
  assert.match(page, /Hello from kiln.*served by arm-web/s, `console:\n${result.output}`);
  // QMP system_powerdown -> PL061 line 3 -> the shim's GPIO watch -> SIGTERM -> the server exits 0.
  assert.match(result.output, /watching the power button on \/dev\/gpiochip0 line 3/);
  assert.match(result.output, /server: stopping after \d+ requests/);
  assert.deepEqual(result.report, { kind: 'exited', code: 0 }, `console:\n${result.output}`);
});
