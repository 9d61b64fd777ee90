import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRuntimeConfig, runtimeConfigJsonSchema } from '../../src/config/runtime.js';
import { decodeRecords, encodeRecords } from '../../src/config/wire.js';
import { runtimeConfRecords, imageConfRecords } from '../../src/init/contract.js';
import { KilnError } from '../../src/errors.js';

test('a valid config parses and keeps its values', () => {
  const config = parseRuntimeConfig({
    version: 1,
    args: ['-x', 'two words'],
    env: { GREETING: 'hi', EMPTY: '' },
    hostname: 'web-1',
    network: { interfaces: [{ name: 'eth0', address: '10.0.2.15/24', gateway: '10.0.2.2' }], dns: ['10.0.2.3'] },
  });
  assert.deepEqual(config.args, ['-x', 'two words']);
  assert.equal(config.network?.interfaces[0]?.gateway, '10.0.2.2');
});

test('every problem is listed with its path', () => {
  try {
    parseRuntimeConfig({
      version: 2,
      env: { '1BAD': 'x' },
      hostname: 'not_valid!',
      network: { interfaces: [{ name: 'eth0', address: '10.0.2.300/24' }, { name: 'eth0', address: '10.0.0.1/8' }] },
      surprise: true,
    });
    assert.fail('expected an error');
  } catch (error) {
    assert.ok(error instanceof KilnError);
    assert.equal(error.code, 'KILN_CONFIG_INVALID');
    const paths = error.details.map((line) => line.split(':')[0]);
    for (const path of ['version', 'env.1BAD', 'hostname', 'network.interfaces.0.address', '(root)']) {
      assert.ok(paths.includes(path), `missing ${path} in ${JSON.stringify(error.details)}`);
    }
  }
});

test('a NUL byte in an argument is refused (the guest format cannot carry it)', () => {
  assert.throws(() => parseRuntimeConfig({ version: 1, args: ['a\0b'] }), /invalid/);
});

test('the JSON Schema is generated from the same schema', () => {
  const schema = runtimeConfigJsonSchema() as { properties: Record<string, unknown>; required: string[] };
  assert.deepEqual(Object.keys(schema.properties).sort(), ['args', 'env', 'hostname', 'network', 'verbose', 'version', 'volumes', 'workdir']);
  assert.deepEqual(schema.required, ['version']);
});

test('wire records round-trip, including empty values and UTF-8', () => {
  const records = [['app', '/app/x'], ['arg', ''], ['env', 'NAME=välue']] as const;
  assert.deepEqual(decodeRecords(encodeRecords(records)), records);
  assert.deepEqual(decodeRecords(encodeRecords(imageConfRecords(['/lib/modules/a.ko']))), [['module', '/lib/modules/a.ko']]);
});

test('runtime records: runtime args replace defaults, env is merged and sorted', () => {
  const records = runtimeConfRecords(
    { path: '/app/hello', args: ['default'], env: { A: '1', B: '2' } },
    parseRuntimeConfig({ version: 1, args: ['x'], env: { B: 'override', C: '3' }, hostname: 'h' }),
    { statusDevice: '/dev/ttyS1', exit: { kind: 'isa-debug-exit', port: 0xf4 } },
  );
  assert.deepEqual(records, [
    ['version', '1'],
    ['app', '/app/hello'],
    ['arg', 'x'],
    ['env', 'A=1'],
    ['env', 'B=override'],
    ['env', 'C=3'],
    ['hostname', 'h'],
    ['status', '/dev/ttyS1'],
    ['exit', 'isa-debug-exit:0xf4'],
  ]);
  const defaults = runtimeConfRecords({ path: '/a', args: ['d1', 'd2'], env: {} }, parseRuntimeConfig({ version: 1 }), {
    statusDevice: '/dev/ttyS1',
    exit: { kind: 'poweroff' },
  });
  assert.deepEqual(defaults.filter(([key]) => key === 'arg').map(([, value]) => value), ['d1', 'd2']);
  assert.deepEqual(defaults.at(-1), ['exit', 'poweroff']);
});

test('best-effort networks: the baked defaults of standalone images are optional, a network asked for at launch is not', async () => {
  const { STANDALONE_CONFIG } = await import('../../src/targets/efi/standalone.js');
  const { xenDefaultConfig } = await import('../../src/targets/xen/image.js');
  const { composeRuntimeConfig } = await import('../../src/launch/launch.js');
  const plumbing = { statusDevice: '/dev/ttyS0', exit: { kind: 'poweroff' } } as const;
  const app = { path: '/app/hello', args: [], env: {} };
  // The record follows its interface's block, so the shim knows which interface may fail.
  const standalone = runtimeConfRecords(app, parseRuntimeConfig(STANDALONE_CONFIG), plumbing);
  assert.deepEqual(standalone.slice(standalone.findIndex(([key]) => key === 'iface'), -2), [['iface', 'eth0'], ['dhcp', '1'], ['optional', '1']]);
  assert.equal(xenDefaultConfig().network?.interfaces[0]?.optional, true);
  // --net tap:… --dhcp, --ip and the default user-mode NIC are asked for: no optional record.
  const asked = composeRuntimeConfig({ taps: [{ ifname: 'kt0', dhcp: true }, { ifname: 'kt1', address: '10.9.0.5/24' }] }).config;
  assert.ok(!runtimeConfRecords(app, asked, plumbing).some(([key]) => key === 'optional'));
  // A runtime config may ask for best effort itself; `optional: false` is the same as leaving it out.
  const fromFile = parseRuntimeConfig({ version: 1, network: { interfaces: [{ name: 'eth0', dhcp: true, optional: false }, { name: 'eth1', dhcp: true, optional: true }] } });
  assert.deepEqual(runtimeConfRecords(app, fromFile, plumbing).filter(([key]) => key === 'iface' || key === 'optional'), [['iface', 'eth0'], ['iface', 'eth1'], ['optional', '1']]);
  assert.throws(() => parseRuntimeConfig({ version: 1, network: { interfaces: [{ name: 'eth0', dhcp: true, optional: 'yes' }] } }), { code: 'KILN_CONFIG_INVALID' });
});
