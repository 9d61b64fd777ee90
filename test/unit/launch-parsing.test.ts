import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { assertPortsFree, parsePortMapping } from '../../src/launch/ports.js';
import { describeProcessEnd, exitCodeFor, kvmFailureReason, parseStatus } from '../../src/launch/status.js';
import { parseEnvAssignments, parseMemory } from '../../src/cli/parse.js';
import { defaultMemoryMiB, minimumMemoryMiB } from '../../src/bake/memory.js';

test('port mappings bind to loopback unless an address is named', () => {
  assert.deepEqual(parsePortMapping('8080:80'), { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 });
  assert.deepEqual(parsePortMapping('0.0.0.0:5353:53/udp'), { protocol: 'udp', hostAddress: '0.0.0.0', hostPort: 5353, guestPort: 53 });
  assert.equal(parsePortMapping('localhost:1:2').hostAddress, '127.0.0.1');
  for (const bad of ['80', '8080:', 'a:b', '70000:80', '8080:80/sctp', '1.2.3.999:80:80', '']) {
    assert.throws(() => parsePortMapping(bad), (error: Error & { code?: string }) => error.code === 'KILN_USAGE', bad);
  }
});

test('a host port that is taken is reported before anything starts', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    await assert.rejects(assertPortsFree([{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: port, guestPort: 80 }]), {
      code: 'KILN_PORT_IN_USE',
    });
  } finally {
    server.close();
  }
});

test('status lines from the shim become exit reports and shell-style codes', () => {
  assert.deepEqual(parseStatus('KILN-START\nKILN-EXIT code=3\n'), { started: true, exit: { kind: 'exited', code: 3 } });
  const signaled = parseStatus('KILN-START\r\nKILN-EXIT signal=SIGSEGV number=11\r\n');
  assert.deepEqual(signaled.exit, { kind: 'signaled', signal: 'SIGSEGV', number: 11 });
  assert.equal(exitCodeFor(signaled.exit!), 139);
  assert.deepEqual(parseStatus('KILN-EXIT init-error=cannot execute /x: No such file or directory\n').exit, {
    kind: 'init-error',
    message: 'cannot execute /x: No such file or directory',
  });
  assert.deepEqual(parseStatus(''), { started: false });
  assert.equal(exitCodeFor({ kind: 'timeout', seconds: 1 }), 124);
});

test('a process killed by a signal is named by the signal, never "status null"', () => {
  assert.equal(describeProcessEnd('QEMU', { code: null, signal: 'SIGABRT' }), 'QEMU was killed by SIGABRT');
  assert.equal(describeProcessEnd('QEMU', { code: 1, signal: null }), 'QEMU exited with status 1');
  assert.equal(describeProcessEnd('xl create', { code: null, signal: null }), 'xl create ended without an exit status');
});

test("QEMU's own words about a KVM that cannot run guests are picked out of its stderr", () => {
  // What QEMU 7.2 prints on a nested-virtualisation stand-in (then it aborts), and without /dev/kvm.
  const msr = [
    'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69',
    "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:2893: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.",
  ].join('\n');
  assert.equal(kvmFailureReason(msr), "failed to set MSR 0x10a to 0x69; ../../target/i386/kvm/kvm.c:2893: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.");
  const missing = 'Could not access KVM kernel module: No such file or directory\nqemu-system-x86_64: -accel kvm: failed to initialize kvm: No such file or directory\n';
  assert.equal(kvmFailureReason(missing), 'Could not access KVM kernel module: No such file or directory; -accel kvm: failed to initialize kvm: No such file or directory');
  assert.match(kvmFailureReason('KVM internal error. Suberror: 1\nemulation failure\n')!, /^KVM internal error/);
  // Nothing about KVM: not an accelerator problem.
  assert.equal(kvmFailureReason('qemu-system-x86_64: -drive file=x: Could not open x: No such file or directory\n'), undefined);
  assert.equal(kvmFailureReason(''), undefined);
});

test('memory sizes and env assignments', () => {
  assert.equal(parseMemory('128M'), 128);
  assert.equal(parseMemory('1G'), 1024);
  assert.equal(parseMemory('96'), 96);
  assert.throws(() => parseMemory('lots'), { code: 'KILN_USAGE' });
  assert.deepEqual(parseEnvAssignments(['A=1', 'B=x=y', 'HOSTVAR', 'UNSET'], { HOSTVAR: 'from-host' }), { A: '1', B: 'x=y', HOSTVAR: 'from-host' });
  assert.throws(() => parseEnvAssignments(['1X=2'], {}), { code: 'KILN_USAGE' });
});

test('memory floor follows the kernel size and the initramfs', () => {
  const initSize = 54_001_664; // Debian 6.1 cloud kernel
  assert.equal(minimumMemoryMiB(initSize, 30_000), 76);
  assert.ok(minimumMemoryMiB(initSize, 100 * 1048576) > 250);
  assert.equal(defaultMemoryMiB(76), 144);
});
