import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyFirstTapFlags, parseNetworks, parseRestart, parseVolume } from '../../src/cli/runtime-flags.js';
import { parseRuntimeConfig } from '../../src/config/runtime.js';
import { runtimeConfRecords } from '../../src/init/contract.js';
import { assertInstanceName } from '../../src/instances/store.js';

const usage = (error: Error & { code?: string }) => error.code === 'KILN_USAGE';

test('-v parses directories and images, relative to the current directory, with :ro', () => {
  assert.deepEqual(parseVolume('./site:/srv:ro', '/home/me'), { source: '/home/me/site', target: '/srv', readOnly: true });
  assert.deepEqual(parseVolume('/x/data.img:/data', '/home/me'), { source: '/x/data.img', target: '/data' });
  assert.deepEqual(parseVolume('d:/data:rw', '/w/'), { source: '/w/d', target: '/data' });
  for (const bad of ['/x', '/x:relative', ':/data', '/x:/y:rx', '/x:/y:ro:extra']) assert.throws(() => parseVolume(bad), usage, bad);
});

test('--net takes user, none and tap:IFNAME with options; a tap alone drops user-mode networking', () => {
  assert.deepEqual(parseNetworks([]), { network: 'user', taps: [] });
  assert.deepEqual(parseNetworks(['none']), { network: 'none', taps: [] });
  assert.deepEqual(parseNetworks(['tap:kiln0,ip=10.0.0.5/24,gw=10.0.0.1', 'tap:kiln1,dhcp,mtu=1400']), {
    network: 'none',
    taps: [
      { ifname: 'kiln0', address: '10.0.0.5/24', gateway: '10.0.0.1' },
      { ifname: 'kiln1', dhcp: true, mtu: 1400 },
    ],
  });
  assert.equal(parseNetworks(['user', 'tap:t0,dhcp']).network, 'user');
  for (const bad of [['bridge'], ['tap:'], ['tap:x,color=red'], ['user', 'none']]) assert.throws(() => parseNetworks(bad), usage, bad.join(' '));
});

test('--ip/--gw/--dhcp configure the first tap, and every tap needs an address or dhcp', () => {
  const { taps } = parseNetworks(['tap:kiln0']);
  applyFirstTapFlags(taps, { ip: '10.0.0.5/24', gw: '10.0.0.1' });
  assert.deepEqual(taps, [{ ifname: 'kiln0', address: '10.0.0.5/24', gateway: '10.0.0.1' }]);
  assert.throws(() => applyFirstTapFlags([], { dhcp: true }), usage);
  assert.throws(() => applyFirstTapFlags(parseNetworks(['tap:kiln0']).taps, {}), usage);
});

test('--restart policies', () => {
  assert.deepEqual(parseRestart('no'), { policy: 'no' });
  assert.deepEqual(parseRestart('on-failure'), { policy: 'on-failure' });
  assert.deepEqual(parseRestart('on-failure:3'), { policy: 'on-failure', maxRetries: 3 });
  for (const bad of ['always', 'no:2', 'on-failure:x']) assert.throws(() => parseRestart(bad), usage, bad);
});

test('instance names', () => {
  assertInstanceName('web');
  assertInstanceName('web-1.prod_2');
  for (const bad of ['', '.locks', '-x', 'a/b', 'x'.repeat(64)]) assert.throws(() => assertInstanceName(bad), usage, bad);
});

test('volumes and DHCP reach the guest as records, and the schema checks them', () => {
  const config = parseRuntimeConfig({
    version: 1,
    network: { interfaces: [{ name: 'eth0', dhcp: true }], dns: [] },
    volumes: [{ source: '/h/site', target: '/srv', readOnly: true }, { source: '/h/d.img', target: '/data' }],
  });
  const records = runtimeConfRecords({ path: '/app', args: [], env: {} }, config, { statusDevice: '/dev/ttyS1', exit: { kind: 'poweroff' } });
  const tail = records.filter(([key]) => ['iface', 'addr', 'dhcp', 'volume', 'mount', 'ro'].includes(key));
  assert.deepEqual(tail, [
    ['iface', 'eth0'],
    ['dhcp', '1'],
    ['volume', 'kiln-vol0'],
    ['mount', '/srv'],
    ['ro', '1'],
    ['volume', 'kiln-vol1'],
    ['mount', '/data'],
  ]);
  const invalid = (input: unknown) => assert.throws(() => parseRuntimeConfig({ version: 1, ...(input as object) }), { code: 'KILN_CONFIG_INVALID' });
  invalid({ network: { interfaces: [{ name: 'eth0' }] } });
  invalid({ network: { interfaces: [{ name: 'eth0', dhcp: true, address: '10.0.0.2/24' }] } });
  invalid({ volumes: [{ source: '/a', target: 'rel' }] });
  invalid({ volumes: [{ source: '/a', target: '/kiln/x' }] });
  invalid({ volumes: [{ source: '/a', target: '/x/../y' }] });
  invalid({ volumes: [{ source: '/a', target: '/d' }, { source: '/b', target: '/d' }] });
});
