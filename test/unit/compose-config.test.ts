import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeRuntimeConfig } from '../../src/launch/launch.js';

test('user-mode networking gives eth0 the SLIRP address, gateway and DNS', () => {
  const { config, networkKind } = composeRuntimeConfig({});
  assert.equal(networkKind, 'user');
  assert.deepEqual(config.network, { interfaces: [{ name: 'eth0', address: '10.0.2.15/24', gateway: '10.0.2.2' }], dns: ['10.0.2.3'] });
});

test('taps follow the user NIC as eth1…; --net none leaves taps as eth0…', () => {
  const withUser = composeRuntimeConfig({ taps: [{ ifname: 'kt0', dhcp: true }, { ifname: 'kt1', address: '10.9.0.5/24' }] });
  assert.deepEqual(withUser.config.network?.interfaces.map((i) => [i.name, i.address ?? 'dhcp']), [['eth0', '10.0.2.15/24'], ['eth1', 'dhcp'], ['eth2', '10.9.0.5/24']]);
  const tapsOnly = composeRuntimeConfig({ network: 'none', taps: [{ ifname: 'kt0', address: '10.9.0.5/24' }], dns: ['10.9.0.1'] });
  assert.deepEqual(tapsOnly.config.network, { interfaces: [{ name: 'eth0', address: '10.9.0.5/24' }], dns: ['10.9.0.1'] });
});

test('flags win over the --config document; env is merged', () => {
  const { config } = composeRuntimeConfig({
    config: { args: ['from-file'], env: { A: 'file', B: 'file' }, hostname: 'file-host' },
    args: ['from-flag'],
    env: { B: 'flag' },
    network: 'none',
  });
  assert.deepEqual(config.args, ['from-flag']);
  assert.deepEqual(config.env, { A: 'file', B: 'flag' });
  assert.equal(config.hostname, 'file-host');
});

test('port forwarding without a network is a usage error', () => {
  assert.throws(() => composeRuntimeConfig({ network: 'none', ports: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 }] }), {
    code: 'KILN_USAGE',
  });
});
