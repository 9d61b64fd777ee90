// Benchmark of the core chain (not a test): for each bundled example, image size (kernel,
// initramfs, total), bake time cold (empty image cache) and warm (cache hit), and wall time
// from launch to the app's first console output and to the VM's exit. Runs each launch N
// times (default 5) and prints min and median. Usage: node bench/core.mjs [runs] [accel]
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { bake, compileC, createContext, getTarget, launch } from '../dist/src/index.js';
import { findFreePort } from '../dist/src/launch/ports.js';

const runs = Number(process.argv[2] ?? 5);
const accel = process.argv[3] ?? 'tcg';
const sharedCache = process.env.KILN_CACHE_DIR ?? join(homedir(), '.cache', 'kiln-test');
const work = await mkdtemp(join(tmpdir(), 'kiln-bench-'));
const ctx = createContext({ paths: { cache: sharedCache, state: join(work, 'state') } });

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)] };
};
const ms = (value) => `${Math.round(value)} ms`;
const mb = (bytes) => `${(bytes / 1048576).toFixed(2)} MB`;

async function timeBake(app, cache, target = 'qemu') {
  const c = createContext({ paths: { cache, state: join(work, 'state') } });
  const started = performance.now();
  const result = await bake(c, { appPath: app, target: getTarget(target) }, join(work, `img-${Math.random().toString(36).slice(2)}`));
  return { ms: performance.now() - started, result };
}

async function timeLaunch(imageDir, extra = {}) {
  const consoleStream = new PassThrough();
  consoleStream.resume();
  const started = performance.now();
  const result = await launch(ctx, { imageDir, accel, console: consoleStream, network: 'none', timeoutSeconds: 120, ...extra });
  return { firstOutput: result.timings.firstOutputMs, exit: performance.now() - started, result };
}

const examples = [
  { name: 'hello (static musl)', source: 'examples/hello/hello.c' },
  { name: 'http-server (static musl)', source: 'examples/http/server.c', serve: true },
];
console.log(`kiln core benchmark — ${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpus()[0]?.model}, accel ${accel}, ${runs} runs`);
for (const example of examples) {
  const app = join(work, example.name.split(' ')[0]);
  await compileC(ctx, { sources: [example.source], output: app });
  // Cold: an empty image cache (the kernel and the shim come from the shared cache).
  const coldCache = join(work, `cold-${example.name.split(' ')[0]}`);
  const { cp } = await import('node:fs/promises');
  await cp(join(sharedCache, 'kernels'), join(coldCache, 'kernels'), { recursive: true });
  await cp(join(sharedCache, 'shim'), join(coldCache, 'shim'), { recursive: true }).catch(() => {});
  const cold = await timeBake(app, coldCache);
  const warm = await timeBake(app, coldCache);
  const m = cold.result.manifest;
  const kernelBytes = (await import('node:fs')).statSync(join(cold.result.dir, 'kernel')).size;
  console.log(`\n${example.name}`);
  console.log(`  image: kernel ${mb(kernelBytes)}, initramfs ${mb(m.initrd.size)}, total ${mb(kernelBytes + m.initrd.size)} (${m.modules.length} modules)`);
  console.log(`  bake: cold ${ms(cold.ms)}, warm ${ms(warm.ms)} (cache hit: ${warm.result.cached})`);
  const first = [];
  const exit = [];
  for (let i = 0; i < runs; i++) {
    if (example.serve) {
      // For a server "exit" is: first output, then a stop request, then the VM gone.
      const stop = new AbortController();
      const port = await findFreePort();
      const consoleStream = new PassThrough();
      const started = performance.now();
      consoleStream.once('data', () => setTimeout(() => stop.abort(), 200));
      consoleStream.resume();
      const result = await launch(ctx, { imageDir: cold.result.dir, accel, console: consoleStream, ports: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: port, guestPort: 80 }], stopSignal: stop.signal, timeoutSeconds: 120 });
      first.push(result.timings.firstOutputMs);
      exit.push(performance.now() - started);
    } else {
      const t = await timeLaunch(cold.result.dir);
      first.push(t.firstOutput);
      exit.push(t.exit);
    }
  }
  const f = stats(first);
  const e = stats(exit);
  console.log(`  launch → first output: min ${ms(f.min)}, median ${ms(f.median)}`);
  console.log(`  launch → exit${example.serve ? ' (stop requested 200 ms after first output)' : ''}: min ${ms(e.min)}, median ${ms(e.median)}`);
}
// Side by side in one run (machines are noisy): the same hello on the pc machine and on microvm.
{
  const app = join(work, 'hello');
  const images = {};
  for (const target of ['qemu', 'microvm']) images[target] = (await timeBake(app, sharedCache, target)).result.dir;
  const exits = { qemu: [], microvm: [] };
  for (let i = 0; i < runs; i++) {
    for (const target of ['qemu', 'microvm']) exits[target].push((await timeLaunch(images[target])).exit);
  }
  const q = stats(exits.qemu);
  const m = stats(exits.microvm);
  console.log(`\nhello, launch → exit, interleaved: qemu (pc) median ${ms(q.median)}, microvm median ${ms(m.median)}, microvm/pc = ${(m.median / q.median).toFixed(2)}`);
}
await rm(work, { recursive: true, force: true });
