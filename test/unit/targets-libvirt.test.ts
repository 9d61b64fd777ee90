import { test } from 'node:test';
import assert from 'node:assert/strict';
import { libvirtDomainXml } from '../../src/export/libvirt.js';

const input = {
  name: 'kiln-hello',
  domainType: 'kvm' as const,
  memoryMiB: 144,
  cpus: 2,
  kernelPath: '/img/kernel',
  initrdPath: '/img/libvirt-initrd.cpio',
  cmdline: 'console=ttyS0 rdinit=/kiln/init panic=-1 quiet',
  networks: ['default'],
};

test('the libvirt domain has direct kernel boot, two serial ports and one virtio NIC per network', () => {
  const xml = libvirtDomainXml(input);
  assert.match(xml, /^<domain type="kvm">\n  <name>kiln-hello<\/name>\n  <memory unit="MiB">144<\/memory>\n  <vcpu>2<\/vcpu>\n/);
  assert.match(xml, /<kernel>\/img\/kernel<\/kernel>\n    <initrd>\/img\/libvirt-initrd.cpio<\/initrd>\n    <cmdline>console=ttyS0 rdinit=\/kiln\/init panic=-1 quiet<\/cmdline>/);
  assert.equal(xml.match(/<serial type="pty">/g)?.length, 2);
  assert.equal(xml.match(/<interface type="network">/g)?.length, 1);
  assert.equal(libvirtDomainXml({ ...input, networks: [] }).includes('<interface'), false);
});

test('values are escaped, and control characters refused', () => {
  const xml = libvirtDomainXml({ ...input, name: 'a<b>&"c\'', kernelPath: '/x&y/kernel' });
  assert.match(xml, /<name>a&lt;b&gt;&amp;&quot;c&apos;<\/name>/);
  assert.match(xml, /<kernel>\/x&amp;y\/kernel<\/kernel>/);
  assert.throws(() => libvirtDomainXml({ ...input, cmdline: 'a\u0001b' }), { code: 'KILN_CONFIG_INVALID' });
});
