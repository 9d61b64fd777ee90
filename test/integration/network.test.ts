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
 * Tap networking against a real DHCP server: the test makes a network namespace with three
 * bridges and a tap on each, runs Debian's dnsmasq on the first, and runs kiln inside the
 * namespace. The guest gets eth0 by DHCP (the shim's own DISCOVER/OFFER/REQUEST/ACK) and eth1
 * statically. On the third bridge the tests start and stop dnsmasq themselves, to see the shim
 * retry until a server answers and renew its lease (short T1/T2), and keep running when the
 * renewal is not answered. Everything is created under a unique name and removed afterwards;
 * nothing touches the host's own interfaces. Needs root (CAP_NET_ADMIN), iproute2 and dnsmasq.
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
  for (const [bridge, tap, address] of [['br0', 'kt0', '10.99.0.1/24'], ['br1', 'kt1', '10.98.0.1/24'], ['br2', 'kt2', '10.97.0.1/24']] as const) {
    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('addr', 'add', address, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    await ip('tuntap', 'add', 'dev', tap, 'mode', 'tap');
    await ip('link', 'set', tap, 'master', bridge);
    await ip('link', 'set', tap, 'up');
  }
  dnsmasq = (await startDnsmasq('br0', ['--dhcp-range=10.99.0.50,10.99.0.60,255.255.255.0,1h', '--dhcp-option=option:router,10.99.0.1', '--dhcp-option=option:dns-server,10.99.0.53'], join(work, 'leases'))).child;
});

interface Dnsmasq {
  child: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
}

/** Debian's dnsmasq as a DHCP server only (no DNS) on one bridge of the namespace, logging each exchange. */
async function startDnsmasq(bridge: string, options: string[], leaseFile: string): Promise<Dnsmasq> {
  const child = spawn(
    'ip',
    ['netns', 'exec', NS, 'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--user=root', `--interface=${bridge}`, '--bind-interfaces', ...options, `--dhcp-leasefile=${leaseFile}`, '--log-dhcp'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!/started|DHCP, IP range/.test(log)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`dnsmasq did not start: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, log: () => log, stop: async () => (child.kill('SIGTERM'), await exited) };
}

after(async () => {
  dnsmasq?.kill('SIGTERM');
  await run('ip', ['netns', 'del', NS]).catch(() => {});
});

/** kiln inside the namespace; `onStdout` sees the console as it arrives (the guest's progress). */
function kilnInNamespace(args: string[], onStdout?: (text: string) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', NS, process.execPath, KILN, ...args], {
      env: { ...process.env, KILN_CACHE_DIR: SHARED_CACHE, KILN_STATE_DIR: join(work, 'state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(stdout);
    });
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

test('DHCP retries until a server answers: dnsmasq starts only after the first DISCOVER went out', async () => {
  let server: Promise<Dnsmasq> | undefined;
  const ran = await kilnInNamespace(['launch', image, '--accel', 'tcg', '--timeout', '180', '--verbose', '--net', 'tap:kt2,dhcp', '--', 'net'], (stdout) => {
    if (!server && /kiln-init: dhcp: eth0: DISCOVER/.test(stdout)) {
      server = startDnsmasq('br2', ['--dhcp-range=10.97.0.50,10.97.0.60,255.255.255.0,1h', '--dhcp-option=option:router,10.97.0.1'], join(work, 'leases-retry'));
    }
  });
  const dhcp = await server;
  await dhcp?.stop();
  assert.ok(dhcp, `the guest never sent a DISCOVER:\n${ran.stdout}`);
  assert.equal(ran.code, 0, ran.stderr + ran.stdout);
  assert.match(ran.stdout, /kiln-init: dhcp: eth0: no offer yet, DISCOVER again/);
  assert.match(ran.stdout, /^addr eth0=10\.97\.0\.(5\d|60)\/24$/m);
});

test('DHCP renews its lease at T1; a renewal nobody answers is a warning and the app keeps its address', async () => {
  // dnsmasq's shortest lease is two minutes; T1 and T2 are set short so the test sees both steps.
  let server: Dnsmasq | undefined = await startDnsmasq(
    'br2',
    ['--dhcp-range=10.97.0.50,10.97.0.60,255.255.255.0,2m', '--dhcp-option=option:T1,10', '--dhcp-option=option:T2,25'],
    join(work, 'leases-renew'),
  );
  let log = '';
  let stopped: Promise<void> | undefined;
  const ran = await kilnInNamespace(['launch', image, '--accel', 'tcg', '--timeout', '240', '--verbose', '--net', 'tap:kt2,dhcp', '--', 'sleep', '45', 'net'], (stdout) => {
    // Once the first renewal is through, the server goes away: the next one is not answered.
    if (server && /kiln-init: dhcp: eth0: renewed/.test(stdout)) {
      const renewed = server;
      stopped = renewed.stop().then(() => void (log = renewed.log()));
      server = undefined;
    }
  });
  await stopped;
  await server?.stop();
  assert.equal(ran.code, 0, ran.stderr + ran.stdout);
  const bound = ran.stdout.match(/kiln-init: dhcp: eth0 got (10\.97\.0\.\d+)\/24, gw \S+, \d+ name server\(s\), lease 120 s/);
  assert.ok(bound, ran.stdout);
  const address = bound[1]!;
  const quoted = address.replaceAll('.', '\\.');
  assert.match(ran.stdout, new RegExp(`kiln-init: dhcp: eth0: renewed ${quoted} from 10\\.97\\.0\\.1, lease 120 s`));
  assert.equal(log.match(new RegExp(`DHCPACK\\(br2\\) ${quoted} `, 'g'))?.length, 2, `dnsmasq acknowledged the lease and its renewal:\n${log}`);
  assert.match(ran.stdout, new RegExp(`kiln-init: warning: dhcp: eth0: 10\\.97\\.0\\.1 did not answer the renewal of ${quoted}; asking any server \\(the lease ends in \\d+ s\\)`));
  assert.match(ran.stdout, new RegExp(`^addr eth0=${quoted}/24$`, 'm'), 'the app still has its address');
});
