import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findFreePort } from '../../src/launch/ports.js';
import { loadImage } from '../../src/image/manifest.js';
import { resolveAccel } from '../../src/launch/accel.js';
import { buildC, SHARED_CACHE, standInQemuEnv, tempDir, testContext } from '../helpers.js';

/** The real `kiln` executable, as a user runs it: argv in, stdout/stderr/exit status out. */
const KILN = new URL('../../src/cli/main.js', import.meta.url).pathname;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kiln(args: string[], options: { onStdout?: (text: string, child: ReturnType<typeof spawn>) => void; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KILN, ...args], { env: { ...(options.env ?? process.env), KILN_CACHE_DIR: SHARED_CACHE }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      options.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: stdout.replace(/\r\n/g, '\n'), stderr }));
  });
}

const { ctx } = testContext();
let work: string;
let hello: string;
let helloImage: string;
let server: string;

before(async () => {
  work = await tempDir();
  hello = await buildC(ctx, 'examples/hello/hello.c', work, 'hello');
  server = await buildC(ctx, 'examples/http/server.c', work, 'http-server');
  helloImage = join(work, 'hello.img');
  const baked = await kiln(['bake', hello, '--target', 'qemu', '-o', helloImage]);
  assert.equal(baked.code, 0, baked.stderr);
});

test('kiln run: bake + launch in one step, the app exit status is kiln exit status', async () => {
  const ran = await kiln(['run', hello, '--accel', 'tcg', '-e', 'GREETING=hi', '--', 'a', '--exit', '5']);
  assert.equal(ran.code, 5, ran.stderr);
  assert.match(ran.stdout, /hello from kiln: hi\narg\[1\]=a\n/);
  assert.match(ran.stderr, /accelerator tcg/);
});

test('kiln launch with default accel says which accelerator it chose and why', async () => {
  const ran = await kiln(['launch', helloImage, '--', 'x']);
  assert.equal(ran.code, 0, ran.stderr);
  assert.match(ran.stderr, /accelerator (tcg|kvm): \S+/);
});

// The three kinds of host: no /dev/kvm, a /dev/kvm that fails, a working one. The first two are
// made here whatever the machine (KILN_KVM_DEVICE, a stand-in QEMU); the last needs a machine
// with a working KVM, where the real-device test below checks what it can.
test('--accel kvm on a host without /dev/kvm is a coded error with the hint to use TCG', async () => {
  const ran = await kiln(['launch', helloImage, '--accel', 'kvm', '--timeout', '60'], { env: { ...process.env, KILN_KVM_DEVICE: '/nonexistent/kvm' } });
  assert.equal(ran.code, 125, ran.stderr);
  assert.match(ran.stderr, /error KILN_ACCEL_UNAVAILABLE: KVM was requested but this host has no \/dev\/kvm/);
  assert.match(ran.stderr, /hint: use --accel tcg/);
});

test('--accel kvm where QEMU aborts at KVM set-up is KILN_ACCEL_UNAVAILABLE with QEMU\'s reason and the signal named', async () => {
  const ran = await kiln(['launch', helloImage, '--accel', 'kvm', '--timeout', '60'], { env: await standInQemuEnv('broken-kvm') });
  assert.equal(ran.code, 125, ran.stderr);
  assert.match(ran.stderr, /error KILN_ACCEL_UNAVAILABLE: QEMU could not run the guest under KVM: failed to set MSR 0x10a to 0x69; .*kvm_buf_set_msrs: Assertion .* \(QEMU was killed by SIGABRT\)/);
  assert.match(ran.stderr, /hint: use --accel tcg/);
  assert.doesNotMatch(ran.stderr, /status null|without a report/);
  // The same stand-in under TCG runs the real QEMU: the image itself is fine.
  const tcg = await kiln(['launch', helloImage, '--accel', 'tcg', '--net', 'none', '--timeout', '120'], { env: await standInQemuEnv('broken-kvm') });
  assert.equal(tcg.code, 0, tcg.stderr);
});

test('--accel kvm on this host\'s own /dev/kvm: boots when KVM works, a coded error when it does not', async (t) => {
  if (!existsSync('/dev/kvm')) {
    // /dev/null passes kiln's device check; the real QEMU then fails to open the missing /dev/kvm.
    const ran = await kiln(['launch', helloImage, '--accel', 'kvm', '--timeout', '60'], { env: { ...process.env, KILN_KVM_DEVICE: '/dev/null' } });
    assert.equal(ran.code, 125, ran.stderr);
    assert.match(ran.stderr, /error KILN_ACCEL_UNAVAILABLE: QEMU could not run the guest under KVM: Could not access KVM kernel module.* \(QEMU exited with status 1\)/);
    assert.match(ran.stderr, /hint: use --accel tcg/);
    return;
  }
  // A /dev/kvm is here: kiln's own probe (a fresh cache, so it really boots) says whether it works,
  // and --accel kvm must agree with it: the app's output and status, or KILN_ACCEL_UNAVAILABLE.
  const probeCache = await tempDir();
  const { ctx: probeCtx } = testContext(probeCache);
  const verdict = await resolveAccel({ ...probeCtx, env: { ...process.env, KILN_CACHE_DIR: probeCache } }, 'auto', await loadImage(helloImage));
  t.diagnostic(`this host's KVM: ${verdict.accel} (${verdict.reason})`);
  const ran = await kiln(['launch', helloImage, '--accel', 'kvm', '--net', 'none', '--timeout', '60', '--', 'kvm']);
  if (verdict.accel === 'kvm') {
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /arg\[1\]=kvm/);
  } else if (/did not finish within/.test(verdict.reason)) {
    // A KVM that crawls: the probe gave up on it, a launch may still finish, or hit --timeout.
    assert.ok([0, 124, 125].includes(ran.code!), ran.stderr);
    assert.doesNotMatch(ran.stderr, /status null/);
  } else {
    assert.equal(ran.code, 125, ran.stderr);
    assert.match(ran.stderr, /error KILN_ACCEL_UNAVAILABLE: /);
    assert.doesNotMatch(ran.stderr, /status null/);
  }
});

test('a QEMU killed by a signal is reported by the signal\'s name', async () => {
  const ran = await kiln(['launch', helloImage, '--accel', 'tcg', '--timeout', '60'], { env: await standInQemuEnv('abort') });
  assert.equal(ran.code, 125, ran.stderr);
  assert.match(ran.stderr, /the VM ended without a report from the guest: QEMU was killed by SIGABRT: qemu-system-x86_64: stand-in abort/);
  assert.doesNotMatch(ran.stderr, /status null/);
});

test('Ctrl-C (SIGINT) stops the VM cleanly: the app gets SIGTERM and its status comes back', async () => {
  const port = await findFreePort();
  let sent = false;
  const ran = await kiln(['launch', await bakeServer(), '--accel', 'tcg', '-p', `${port}:80`, '--timeout', '120'], {
    onStdout: (text, child) => {
      if (!sent && text.includes('listening on port 80')) {
        sent = true;
        child.kill('SIGINT');
      }
    },
  });
  assert.ok(sent, 'the server came up');
  assert.match(ran.stdout, /http-server: stopping after 0 requests/);
  assert.equal(ran.code, 0, ran.stderr);
});

async function bakeServer(): Promise<string> {
  const image = join(work, 'server.img');
  const baked = await kiln(['bake', server, '-o', image]);
  assert.equal(baked.code, 0, baked.stderr);
  return image;
}

test('bad input gets a stable code and a hint, and exit status 125', async () => {
  const cases: [string[], RegExp][] = [
    [['bake', join(work, 'missing'), '-o', join(work, 'm.img')], /error KILN_APP_NOT_FOUND/],
    [['bake', hello, '--target', 'vax', '-o', join(work, 'v.img')], /error KILN_TARGET_UNKNOWN: unknown target "vax"\n\s+hint: known targets: qemu/],
    [['launch', helloImage, '-p', '8080'], /error KILN_USAGE: invalid port mapping "8080"/],
    [['launch', helloImage, '-e', '1=x'], /error KILN_USAGE: invalid environment assignment "1=x"/],
    [['launch', helloImage, '-m', '40M'], /error KILN_MEMORY_TOO_SMALL: 40 MiB is not enough to boot this image \(it needs at least \d+ MiB\)\n\s+hint: use -m \d+M or more/],
    [['launch', helloImage, '--accel', 'warp'], /error KILN_USAGE: unknown accelerator "warp"/],
    [['launch', join(work, 'nothing-here')], /error KILN_IMAGE_NOT_FOUND/],
  ];
  for (const [args, expected] of cases) {
    const ran = await kiln(args);
    assert.equal(ran.code, 125, `${args.join(' ')}: ${ran.stderr}`);
    assert.match(ran.stderr, expected);
  }
});

test('an invalid runtime config file lists every problem with its path', async () => {
  const config = join(work, 'bad-config.json');
  await writeFile(config, JSON.stringify({ version: 1, hostname: 'bad_name', env: { 'X-Y': '1' }, args: 'not-a-list' }));
  const ran = await kiln(['launch', helloImage, '--config', config]);
  assert.equal(ran.code, 125);
  assert.match(ran.stderr, /error KILN_CONFIG_INVALID: runtime config is invalid \(3 problems\)/);
  for (const path of ['hostname:', 'env.X-Y:', 'args:']) assert.ok(ran.stderr.includes(`  ${path}`), `${path} in ${ran.stderr}`);
});

test('a valid runtime config file is used, and flags override it', async () => {
  const config = join(work, 'config.json');
  await writeFile(config, JSON.stringify({ version: 1, args: ['from-config'], env: { GREETING: 'from-config' } }));
  const fromFile = await kiln(['launch', helloImage, '--accel', 'tcg', '--net', 'none', '--config', config]);
  assert.match(fromFile.stdout, /hello from kiln: from-config\narg\[1\]=from-config\n/);
  const overridden = await kiln(['launch', helloImage, '--accel', 'tcg', '--net', 'none', '--config', config, '-e', 'GREETING=flag', '--', 'from-flag']);
  assert.match(overridden.stdout, /hello from kiln: flag\narg\[1\]=from-flag\n/);
});

test('--json renders errors as NDJSON with the code', async () => {
  const ran = await kiln(['--json', 'launch', join(work, 'nothing-here')]);
  const last = JSON.parse(ran.stderr.trim().split('\n').at(-1)!);
  assert.equal(last.type, 'error');
  assert.equal(last.code, 'KILN_IMAGE_NOT_FOUND');
  assert.ok(last.hint);
});

test('kiln config schema prints the JSON Schema; kiln targets lists qemu', async () => {
  const schema = JSON.parse((await kiln(['config', 'schema'])).stdout);
  assert.equal(schema.type, 'object');
  assert.ok(schema.properties.network);
  const targets = await kiln(['targets']);
  assert.match(targets.stdout, /^qemu\s+launchable/m);
  assert.match(targets.stdout, /^disk\s.*\n\s+component sets: .*virtio-scsi, nvme, ena, gve$/m);
});

test('no QEMU on PATH: a coded error naming the Debian package', async () => {
  const ran = await new Promise<Ran>((resolve, reject) => {
    const child = spawn(process.execPath, [KILN, 'launch', helloImage, '--accel', 'tcg'], {
      env: { ...process.env, KILN_CACHE_DIR: SHARED_CACHE, PATH: '/nonexistent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: '', stderr }));
  });
  assert.equal(ran.code, 125);
  assert.match(ran.stderr, /error KILN_TOOL_MISSING: qemu-system-x86_64 is not installed\n\s+hint: install it with: apt-get install qemu-system-x86/);
});
