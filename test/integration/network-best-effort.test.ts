import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { loadImage } from '../../src/image/manifest.js';
import { runVm } from '../../src/launch/vm.js';
import { ovmfProblems } from '../../src/targets/efi/firmware.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { buildC, launchCaptured, runKiln, tempDir, testContext } from '../helpers.js';

/**
 * A network nobody asked for is best effort; one that was asked for is not. The defaults baked
 * into standalone images (DHCP on eth0) must not stop the app when the machine has no NIC; a
 * network given at launch (a runtime config, --net tap:…, --ip) must, when it cannot be set up.
 */
const { ctx } = testContext();
let work: string;
let probeImage: string;

before(async () => {
  work = await tempDir();
  const probe = await buildC(ctx, 'test/fixtures/guest-probe.c', work, 'probe');
  probeImage = (await bake(ctx, { appPath: probe, target: qemuTarget }, join(work, 'probe.img'))).dir;
});

test('a disk image (qcow2) booted by plain QEMU + OVMF with no NIC runs its app, warns about the network, and its status comes back', async (t) => {
  if ((await ovmfProblems()).length > 0) assert.fail('OVMF is not installed — scripts/setup.sh installs it');
  const hello = await buildC(ctx, 'examples/hello/hello.c', work, 'hello');
  const dir = join(work, 'hello.disk');
  // As a user does it; the app's default arguments make its status something other than 0.
  const baked = await runKiln(['bake', hello, '--target', 'disk', '--format', 'qcow2', '--default-arg=--exit', '--default-arg=3', '-o', dir]);
  assert.equal(baked.code, 0, baked.stderr);
  const image = await loadImage(dir);

  // Nothing from kiln's QEMU options: the firmware, the disk on virtio, one serial port, no NIC.
  const vars = join(work, 'OVMF_VARS_4M.fd');
  await copyFile('/usr/share/OVMF/OVMF_VARS_4M.fd', vars);
  const consoleLog = join(work, 'disk-console.log');
  await writeFile(consoleLog, '');
  const argv = [
    '-M', 'q35', '-accel', 'tcg', '-cpu', 'max', '-m', String(image.manifest.memory.defaultMiB), '-nodefaults', '-display', 'none', '-no-reboot',
    '-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
    '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
    '-drive', `if=virtio,format=qcow2,file=${join(dir, 'disk.qcow2')}`,
    '-serial', `file:${consoleLog}`,
    '-nic', 'none',
  ];
  const result = await runVm(ctx, { qemu: 'qemu-system-x86_64', argv, accel: 'tcg', statusPath: consoleLog, qmpSocketPath: join(work, 'unused-qmp.sock'), timeoutSeconds: 600, stopTimeoutSeconds: 5 });
  const console = (await readFile(consoleLog, 'utf8')).replace(/\r\n/g, '\n');
  assert.deepEqual(result.report, { kind: 'exited', code: 3 }, console.slice(-3000));
  assert.match(console, /kiln-init: warning: network set-up of eth0 failed, starting the app without it: network interface eth0 does not exist/);
  assert.match(console, /hello from kiln: \(no GREETING set\)\narg\[1\]=--exit\narg\[2\]=3\n/);
  t.diagnostic(`no-NIC disk boot under OVMF+TCG: ${result.timings.exitMs} ms`);
});

test('a network asked for in a runtime config stays fatal when it cannot be set up; marked optional, the app runs', async () => {
  const config = (optional: boolean) => ({ version: 1 as const, network: { interfaces: [{ name: 'eth0', dhcp: true, ...(optional ? { optional } : {}) }], dns: [] } });
  const asked = await launchCaptured(ctx, { imageDir: probeImage, network: 'none', config: config(false), args: ['net'] });
  assert.deepEqual(asked.report, { kind: 'init-error', message: "network interface eth0 does not exist (is its driver in the image's modules?)" }, asked.output);
  assert.equal(asked.exitCode, 126);
  assert.doesNotMatch(asked.output, /^addr /m, 'the app never ran');

  const optional = await launchCaptured(ctx, { imageDir: probeImage, network: 'none', config: config(true), args: ['net', 'exit', '5'] });
  assert.deepEqual(optional.report, { kind: 'exited', code: 5 }, optional.output);
  assert.match(optional.output, /warning: network set-up of eth0 failed, starting the app without it: network interface eth0 does not exist/);
  assert.match(optional.output, /^addr lo=127\.0\.0\.1\/8$/m);
  assert.doesNotMatch(optional.output, /^addr eth0=/m);
});
