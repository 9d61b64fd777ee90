import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile, chmod, copyFile } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { createContext, type Context } from '../../src/context.js';
import { MemoryReporter } from '../../src/events.js';
import { encodeRecords, type WireRecord } from '../../src/config/wire.js';
import { obtainKernel, loadModuleIndex } from '../../src/components/index.js';
import { buildShim } from '../../src/init/build.js';
import { compileC } from '../../src/toolchain/musl.js';
import { run } from '../../src/util/exec.js';

/**
 * Boots the real shim as PID 1 under QEMU/TCG with Debian's cloud kernel and checks the guest
 * contract end to end: argv/env/workdir/hostname, exit codes, signals, init errors, module
 * loading, static networking, and the two shutdown paths (ACPI power button, ctrl-alt-del).
 * The initramfs is assembled by hand (cpio) so that only the shim is under test.
 */

const CACHE = process.env.KILN_CACHE_DIR ?? join(homedir(), '.cache', 'kiln-test');
const BOOT_TIMEOUT_MS = 90_000;

const TEST_APP = String.raw`
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void cat(const char *path) {
  char line[512];
  FILE *f = fopen(path, "r");
  if (!f) { printf("cannot open %s\n", path); return; }
  while (fgets(line, sizeof line, f)) printf("%s: %s", path, line);
  fclose(f);
}

static void say_hello(const char *ip, int port) {
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  inet_pton(AF_INET, ip, &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("connect"); return; }
  write(fd, "hello from the guest\n", 21);
  close(fd);
  printf("connected to %s:%d\n", ip, port);
}

int main(int argc, char **argv) {
  char cwd[256];
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  printf("GREETING=%s\n", getenv("GREETING") ? getenv("GREETING") : "(unset)");
  printf("PATH=%s\nHOME=%s\nTERM=%s\n", getenv("PATH"), getenv("HOME"), getenv("TERM") ? getenv("TERM") : "(unset)");
  printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
  for (int i = 1; i < argc; i++) {
    fflush(stdout);
    if (!strcmp(argv[i], "--cat") && i + 1 < argc) cat(argv[++i]);
    else if (!strcmp(argv[i], "--connect") && i + 2 < argc) { say_hello(argv[i + 1], atoi(argv[i + 2])); i += 2; }
    else if (!strcmp(argv[i], "--leave-child")) {
      signal(SIGTERM, SIG_IGN); /* before fork: the child must ignore SIGTERM from its first instant */
      if (fork() == 0) for (;;) pause();
    }
    else if (!strcmp(argv[i], "--exit") && i + 1 < argc) return atoi(argv[++i]);
    else if (!strcmp(argv[i], "--segv")) *(volatile int *)0 = 1;
    else if (!strcmp(argv[i], "--sleep")) { puts("sleeping"); fflush(stdout); for (;;) pause(); }
  }
  return 0;
}
`;

/** The virtio-net module closure on pc, in load order (docs/DESIGN.md). */
const VIRTIO_NET_MODULES = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'failover', 'net_failover', 'virtio_net'];

interface Kernel {
  vmlinuz: string;
  modules: Map<string, string>;
}

let work: string;
let ctx: Context;
let kernel: Kernel;
let shimPath: string;
let app: string;
let dynamicApp: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'kiln-shim-test-'));
  ctx = createContext({ paths: { cache: CACHE, state: join(work, 'state') } });
  kernel = await debianCloudKernel(CACHE);
  shimPath = (await buildShim(ctx)).path;
  await writeFile(join(work, 'app.c'), TEST_APP);
  app = join(work, 'app');
  dynamicApp = join(work, 'app-dynamic');
  await compileC(ctx, { sources: [join(work, 'app.c')], output: app });
  await compileC(ctx, { sources: [join(work, 'app.c')], output: dynamicApp, static: false });
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('the shim builds reproducibly, and a second build is a cache hit', async () => {
  const builds = [];
  for (const name of ['cache-a', 'cache-b']) {
    const events = new MemoryReporter();
    const fresh = createContext({ paths: { cache: join(work, name), state: join(work, 'state') }, reporter: events });
    const first = await buildShim(fresh);
    const second = await buildShim(fresh);
    assert.equal(first.cached, false);
    assert.equal(second.cached, true);
    assert.equal(second.path, first.path);
    assert.ok(events.events.some((e) => e.type === 'cache' && e.hit));
    builds.push({ first, bytes: await readFile(first.path) });
  }
  assert.equal(builds[0]!.first.sha256, builds[1]!.first.sha256);
  assert.ok(builds[0]!.bytes.equals(builds[1]!.bytes), 'two clean builds give the same bytes');
  assert.match(builds[0]!.first.compiler, /gcc.*; musl \S+/);
});

test('the app gets argv, a clean env, its workdir and hostname; exit 0 is reported', async (t) => {
  const result = await boot(t, {
    runtime: [
      ['version', '1'],
      ['app', '/bin/app'],
      ['arg', 'two words'],
      ['arg', '--cat'],
      ['arg', '/etc/hostname'],
      ['arg', '--cat'],
      ['arg', '/etc/hosts'],
      ['env', 'GREETING=hello kiln'],
      ['workdir', '/tmp'],
      ['hostname', 'shim-test'],
      ['future-key', 'ignored'],
    ],
  });
  assert.match(result.console, /^argv\[0\]=\/bin\/app$/m);
  assert.match(result.console, /^argv\[1\]=two words$/m);
  assert.match(result.console, /^GREETING=hello kiln$/m);
  assert.match(result.console, /^PATH=\/usr\/local\/bin:\/usr\/bin:\/bin:\/usr\/sbin:\/sbin$/m);
  assert.match(result.console, /^HOME=\/$/m);
  assert.match(result.console, /^TERM=\(unset\)$/m, 'the kernel-given environment is not passed on');
  assert.match(result.console, /^cwd=\/tmp$/m);
  assert.match(result.console, /^\/etc\/hostname: shim-test$/m);
  assert.match(result.console, /^\/etc\/hosts: 127\.0\.1\.1\tshim-test$/m);
  assert.match(result.console, /kiln-init: warning: \/kiln\/runtime.conf: unknown key 'future-key' ignored/);
  assert.equal(result.status, 'KILN-START\nKILN-EXIT code=0\n');
  assert.equal(result.qemuExit, 1, 'isa-debug-exit value 0 → QEMU status 1');
});

test('exit status 3 is reported, after leftover processes are killed', async (t) => {
  const result = await boot(t, {
    runtime: [['app', '/bin/app'], ['arg', '--leave-child'], ['arg', '--exit'], ['arg', '3'], ['verbose', '1']],
  });
  assert.equal(result.status, 'KILN-START\nKILN-EXIT code=3\n');
  assert.match(result.console, /kiln-init: killing the remaining processes/);
  assert.equal(result.qemuExit, 7, 'isa-debug-exit value 3 → QEMU status 7');
});

test('an app killed by SIGSEGV is reported by signal name, without a panic', async (t) => {
  const result = await boot(t, { runtime: [['app', '/bin/app'], ['arg', '--segv']] });
  assert.equal(result.status, 'KILN-START\nKILN-EXIT signal=SIGSEGV number=11\n');
  assert.doesNotMatch(result.console, /Kernel panic/);
  assert.equal(result.qemuExit, 253, 'isa-debug-exit value 126 → QEMU status 253');
});

test('a missing app is an init error, and KILN-START is never written', async (t) => {
  const result = await boot(t, { runtime: [['app', '/bin/nope']] });
  assert.equal(result.status, 'KILN-EXIT init-error=cannot execute /bin/nope: No such file or directory\n');
  assert.match(result.console, /kiln-init: error: cannot execute \/bin\/nope/);
  assert.equal(result.qemuExit, 255);
});

test('a dynamic app without its ELF interpreter is an init error that names the interpreter', async (t) => {
  const result = await boot(t, { runtime: [['app', '/bin/app-dynamic']] });
  assert.match(
    result.status,
    /^KILN-EXIT init-error=cannot execute \/bin\/app-dynamic: No such file or directory \(its ELF interpreter \/lib\/ld-musl-x86_64\.so\.1 is missing\)\n$/,
  );
});

test('a module that cannot be loaded is an init error naming it', async (t) => {
  const result = await boot(t, {
    image: [['module', '/kiln/modules/bogus.ko']],
    runtime: [['app', '/bin/app']],
  });
  assert.match(result.status, /^KILN-EXIT init-error=cannot load module \/kiln\/modules\/bogus\.ko: Exec format error/);
});

test('a static interface gets its address, MTU, default route and DNS; the guest reaches the host', async (t) => {
  const received: string[] = [];
  const server = createServer((socket) => socket.on('data', (chunk: Buffer) => received.push(chunk.toString())));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const result = await boot(t, {
      modules: VIRTIO_NET_MODULES,
      qemuArgs: ['-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0'],
      runtime: [
        ['app', '/bin/app'],
        ['arg', '--cat'],
        ['arg', '/sys/class/net/eth0/mtu'],
        ['arg', '--cat'],
        ['arg', '/proc/net/route'],
        ['arg', '--cat'],
        ['arg', '/etc/resolv.conf'],
        ['arg', '--connect'],
        ['arg', '10.0.2.2'],
        ['arg', String(port)],
        ['iface', 'eth0'],
        ['addr', '10.0.2.15/24'],
        ['gw', '10.0.2.2'],
        ['mtu', '1400'],
        ['dns', '10.0.2.3'],
        ['dns', '192.0.2.53'],
        ['verbose', '1'],
      ],
    });
    assert.equal(result.status, 'KILN-START\nKILN-EXIT code=0\n');
    assert.match(result.console, /^\/sys\/class\/net\/eth0\/mtu: 1400$/m);
    // /proc/net/route: a default route (destination 0) via 10.0.2.2 (0202000A, little-endian hex).
    assert.match(result.console, /^\/proc\/net\/route: eth0\t00000000\t0202000A\t0003\t/m);
    assert.match(result.console, /^\/etc\/resolv.conf: nameserver 10\.0\.2\.3$/m);
    assert.match(result.console, /^\/etc\/resolv.conf: nameserver 192\.0\.2\.53$/m);
    assert.match(result.console, /^connected to 10\.0\.2\.2:/m);
    assert.deepEqual(received, ['hello from the guest\n']);
    const loads = [...result.console.matchAll(/kiln-init: loaded module \S+\/(\w+)\.ko in (\d+) ms/g)];
    t.diagnostic(`virtio-net module loads: ${loads.map((m) => `${m[1]} ${m[2]} ms`).join(', ')}`);
  } finally {
    server.close();
  }
});

test('the ACPI power button (QMP system_powerdown) sends SIGTERM to the app', async (t) => {
  let pressedAt = 0;
  const result = await boot(t, {
    modules: ['button'],
    runtime: [['app', '/bin/app'], ['arg', '--sleep'], ['verbose', '1']],
    onStart: async (qmp) => {
      pressedAt = Date.now();
      await qmpCommand(qmp, { execute: 'system_powerdown' });
    },
  });
  t.diagnostic(`power button press to QEMU exit: ${result.endedAt - pressedAt} ms`);
  assert.match(result.console, /kiln-init: watching the ACPI power button/);
  assert.match(result.console, /kiln-init: the ACPI power button was pressed: sending SIGTERM to the app/);
  assert.equal(result.status, 'KILN-START\nKILN-EXIT signal=SIGTERM number=15\n');
});

test('ctrl-alt-del (a SIGINT to PID 1) also sends SIGTERM to the app', async (t) => {
  const result = await boot(t, {
    runtime: [['app', '/bin/app'], ['arg', '--sleep'], ['verbose', '1']],
    onStart: async (qmp) => {
      const keys = ['ctrl', 'alt', 'delete'].map((data) => ({ type: 'qcode', data }));
      await qmpCommand(qmp, { execute: 'send-key', arguments: { keys } });
    },
  });
  assert.match(result.console, /kiln-init: received SIGINT: sending SIGTERM to the app/);
  assert.equal(result.status, 'KILN-START\nKILN-EXIT signal=SIGTERM number=15\n');
});

// ---------------------------------------------------------------------------------------------

interface BootCase {
  runtime: WireRecord[];
  image?: WireRecord[];
  /** Module names from the kernel package, copied to /kiln/modules/ and loaded in this order. */
  modules?: string[];
  qemuArgs?: string[];
  /** Called once KILN-START is seen, with the QMP socket path. */
  onStart?: (qmp: string) => Promise<void>;
}

interface BootResult {
  console: string;
  status: string;
  qemuExit: number | null;
  endedAt: number;
}

async function boot(t: { diagnostic(message: string): void }, spec: BootCase): Promise<BootResult> {
  const dir = await mkdtemp(join(work, 'boot-'));
  const initrd = join(dir, 'initrd.cpio');
  const moduleRecords: WireRecord[] = (spec.modules ?? []).map((name) => ['module', `/kiln/modules/${name}.ko`]);
  const plumbing: WireRecord[] = [
    ['status', '/dev/ttyS1'],
    ['exit', 'isa-debug-exit:0xf4'],
  ];
  // Two concatenated archives, as kiln does: the image's, then the per-launch config.
  const image = await cpioOf(join(dir, 'image'), async (root) => {
    await install(shimPath, join(root, 'kiln/init'));
    await install(app, join(root, 'bin/app'));
    await install(dynamicApp, join(root, 'bin/app-dynamic'));
    await mkdir(join(root, 'kiln/modules'), { recursive: true });
    await writeFile(join(root, 'kiln/modules/bogus.ko'), 'not a module');
    for (const name of spec.modules ?? []) await copyFile(moduleFile(name), join(root, `kiln/modules/${name}.ko`));
    await writeFile(join(root, 'kiln/image.conf'), encodeRecords([...moduleRecords, ...(spec.image ?? [])]));
  });
  const runtime = await cpioOf(join(dir, 'runtime'), async (root) => {
    await mkdir(join(root, 'kiln'), { recursive: true });
    await writeFile(join(root, 'kiln/runtime.conf'), encodeRecords([...spec.runtime, ...plumbing]));
  });
  await writeFile(initrd, Buffer.concat([image, runtime]));

  const statusPath = join(dir, 'status.log');
  const qmpPath = join(dir, 'qmp.sock');
  const argv = [
    ...['-M', 'pc', '-nodefaults', '-no-reboot', '-accel', 'tcg', '-m', '128M', '-display', 'none'],
    ...['-kernel', kernel.vmlinuz, '-initrd', initrd, '-append', 'console=ttyS0 rdinit=/kiln/init panic=-1 quiet'],
    ...['-serial', 'stdio'],
    ...['-chardev', `file,id=status,path=${statusPath}`, '-device', 'isa-serial,chardev=status'],
    ...['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'],
    ...['-qmp', `unix:${qmpPath},server=on,wait=off`],
    ...(spec.qemuArgs ?? []),
  ];
  const startedAt = Date.now();
  const qemu = spawn('qemu-system-x86_64', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let consoleText = '';
  qemu.stdout.on('data', (chunk: Buffer) => (consoleText += chunk.toString('utf8')));
  qemu.stderr.on('data', (chunk: Buffer) => (consoleText += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => qemu.on('close', (code) => resolve(code)));
  const killer = setTimeout(() => qemu.kill('SIGKILL'), BOOT_TIMEOUT_MS);

  let running = true;
  void exited.then(() => (running = false));
  let started = false;
  while (running && !started) {
    started = (await readFile(statusPath, 'utf8').catch(() => '')).startsWith('KILN-START');
    if (!started) await delay(10);
  }
  if (started) {
    t.diagnostic(`boot to KILN-START: ${Date.now() - startedAt} ms`);
    await spec.onStart?.(qmpPath);
  }
  const qemuExit = await exited;
  const endedAt = Date.now();
  clearTimeout(killer);
  const status = await readFile(statusPath, 'utf8').catch(() => '');
  const consoleOut = consoleText.replace(/\r\n/g, '\n');
  if (!status.includes('KILN-EXIT')) t.diagnostic(`console:\n${consoleOut}`);
  return { console: consoleOut, status, qemuExit, endedAt };
}

async function delay(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function install(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await copyFile(from, to);
  await chmod(to, 0o755);
}

/** Fills a directory and archives it with Debian's cpio (newc, root-owned, sorted names). */
async function cpioOf(root: string, fill: (root: string) => Promise<void>): Promise<Buffer> {
  await mkdir(root, { recursive: true });
  await fill(root);
  const entries = (await readdir(root, { recursive: true })).map((entry) => relative(root, join(root, entry))).sort();
  const out = `${root}.cpio`;
  await run('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0', '-O', out], { cwd: root, input: entries.join('\n') + '\n' });
  return readFile(out);
}

/** Sends one QMP command after the capabilities handshake and waits for its reply. */
async function qmpCommand(socketPath: string, command: object): Promise<void> {
  const socket = createConnection(socketPath);
  const replies: string[] = [];
  let buffered = '';
  let notify = (): void => {};
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    replies.push(...lines.filter((line) => line.includes('"return"') || line.includes('"error"')));
    notify();
  });
  const nextReply = async (): Promise<string> => {
    while (replies.length === 0) await new Promise<void>((resolve) => (notify = resolve));
    return replies.shift()!;
  };
  try {
    socket.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
    assert.match(await nextReply(), /"return"/);
    socket.write(JSON.stringify(command) + '\n');
    assert.match(await nextReply(), /"return"/);
  } finally {
    socket.end();
  }
}

/**
 * Debian's current cloud kernel through the components API (downloaded once into the test cache).
 */
async function debianCloudKernel(cache: string): Promise<Kernel> {
  const components = await obtainKernel(createContext({ paths: { cache, state: join(cache, 'state') } }), {});
  const index = await loadModuleIndex(createContext({ paths: { cache, state: join(cache, 'state') } }), components);
  const modules = new Map<string, string>();
  for (const [name, info] of index.modules) if (!info.builtin) modules.set(name, join(components.modulesDir!, info.path));
  return { vmlinuz: components.kernelPath, modules };
}

function moduleFile(name: string): string {
  const path = kernel.modules.get(name);
  assert.ok(path, `module ${name} is not in the kernel package`);
  return path;
}
