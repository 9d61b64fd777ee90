import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bake } from '../../src/bake/index.js';
import { qemuTarget } from '../../src/targets/registry.js';
import { run } from '../../src/util/exec.js';
import { buildC, SHARED_CACHE, tempDir, testContext } from '../helpers.js';

/**
 * Tap networking against a real DHCP server: the test makes a network namespace with two
 * bridges and a tap on each, runs Debian's dnsmasq on the first, and runs kiln inside the
 * namespace. The guest gets eth0 by DHCP (the shim's own DISCOVER/OFFER/REQUEST/ACK) and eth1
 * statically. Everything is created under a unique name and removed afterwards; nothing
 * touches the host's own interfaces. Needs root (CAP_NET_ADMIN), iproute2 and dnsmasq.
 */
const KILN = new URL('../../src/cli/main.js', import.meta.url).pathname;
const NS = `kiln-nt-${process.pid}`;
let work: string;
let image: string;
let dnsmasq: ChildProcess | undefined;

async function ip(...args: string[]): Promise<void> {
  await run('ip', ['-n', NS, ...args]);
}

before(async () => {
  // Root (network namespaces) and dnsmasq are part of the test set-up: fail loudly without them.
  assert.equal(process.getuid?.(), 0, 'this test needs root for network namespaces');
  await run('dnsmasq', ['--version']).catch(() => assert.fail('dnsmasq is not installed (scripts/setup.sh installs dnsmasq-base)'));
  const { ctx } = testContext();
  work = await tempDir();
  const probe = await buildC(ctx, 'test/fixtures/guest-probe.c', work, 'probe');
  image = (await bake(ctx, { appPath: probe, target: qemuTarget }, join(work, 'probe.img'))).dir;

  await run('ip', ['netns', 'add', NS]);
  await ip('link', 'set', 'lo', 'up');
  for (const [bridge, tap, address] of [['br0', 'kt0', '10.99.0.1/24'], ['br1', 'kt1', '10.98.0.1/24']] as const) {
    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('addr', 'add', address, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    await ip('tuntap', 'add', 'dev', tap, 'mode', 'tap');
    await ip('link', 'set', tap, 'master', bridge);
    await ip('link', 'set', tap, 'up');
  }
  dnsmasq = spawn(
    'ip',
    [
      'netns', 'exec', NS, 'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--user=root',
      '--interface=br0', '--bind-interfaces', '--dhcp-range=10.99.0.50,10.99.0.60,255.255.255.0,1h',
      '--dhcp-option=option:router,10.99.0.1', '--dhcp-option=option:dns-server,10.99.0.53',
      `--dhcp-leasefile=${join(work, 'leases')}`, '--log-dhcp',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  dnsmasq.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!/started|DHCP, IP range/.test(log)) {
    if (Date.now() > deadline || dnsmasq.exitCode !== null) throw new Error(`dnsmasq did not start: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});

after(async () => {
  dnsmasq?.kill('SIGTERM');
  await run('ip', ['netns', 'del', NS]).catch(() => {});
});

function kilnInNamespace(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', NS, process.execPath, KILN, ...args], {
      env: { ...process.env, KILN_CACHE_DIR: SHARED_CACHE, KILN_STATE_DIR: join(work, 'state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: stdout.replace(/\r\n/g, '\n'), stderr }));
  });
}

test('two tap interfaces: one by DHCP from dnsmasq, one static; name servers from both', async (t) => {
  const ran = await kilnInNamespace([
    'launch', image, '--accel', 'tcg', '--timeout', '120',
    '--net', 'tap:kt0,dhcp', '--net', 'tap:kt1,ip=10.98.0.5/24', '--dns', '10.98.0.1', '--hostname', 'tapguest',
    '--', 'net',
  ]);
  assert.equal(ran.code, 0, ran.stderr + ran.stdout);
  const eth0 = ran.stdout.match(/^addr eth0=(10\.99\.0\.(\d+))\/24$/m);
  assert.ok(eth0 && Number(eth0[2]) >= 50 && Number(eth0[2]) <= 60, `eth0 got an address from the DHCP range:\n${ran.stdout}`);
  assert.match(ran.stdout, /^addr eth1=10\.98\.0\.5\/24$/m);
  assert.match(ran.stdout, /^resolv=nameserver 10\.98\.0\.1\|nameserver 10\.99\.0\.53$/m, 'the --dns server first, then the one DHCP gave');
  assert.match(ran.stdout, /eth0\t00000000\t0100630A\t0003/, 'the default route goes via the DHCP router 10.99.0.1');
  const leases = await readFile(join(work, 'leases'), 'utf8');
  assert.ok(leases.includes(eth0[1]!), `dnsmasq recorded the lease: ${leases}`);
});

test('no DHCP server answering: the shim reports it as an init error instead of hanging', async (t) => {
  const ran = await kilnInNamespace(['launch', image, '--accel', 'tcg', '--timeout', '120', '--net', 'tap:kt1', '--dhcp', '--', 'net']);
  assert.equal(ran.code, 126, ran.stderr);
  assert.match(ran.stderr + ran.stdout, /dhcp: no offer on eth0/);
});
