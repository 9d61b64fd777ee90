// The quick start's main job, through kiln's library API: build the bundled HTTP server with
// kiln's musl toolchain, bake it for QEMU, boot it with a forwarded port, fetch a page from
// the host, print it, and stop the VM (ACPI power button → SIGTERM to the server).
import { mkdir } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { bake, compileC, createContext, getTarget, launch } from '../dist/src/index.js';
import { createRenderer } from '../dist/src/cli/render.js';
import { findFreePort } from '../dist/src/launch/ports.js';

const ctx = createContext({ reporter: createRenderer('plain') });
await mkdir('build', { recursive: true });

console.log('1. building examples/http/server.c with the musl toolchain');
await compileC(ctx, { sources: ['examples/http/server.c'], output: 'build/http-server' });

console.log('2. baking build/http-server for the qemu target');
const image = await bake(ctx, { appPath: 'build/http-server', target: getTarget('qemu') }, 'build/http.img');

const port = await findFreePort();
console.log(`3. booting it with -p ${port}:80`);
const consoleStream = new PassThrough();
createInterface({ input: consoleStream }).on('line', (line) => console.log(`   [guest] ${line.replace(/\r$/, '')}`));
const stop = new AbortController();
const running = launch(ctx, {
  imageDir: image.dir,
  ports: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: port, guestPort: 80 }],
  hostname: 'kiln-demo',
  console: consoleStream,
  stopSignal: stop.signal,
  timeoutSeconds: 120,
});

const page = await fetchWhenUp(`http://127.0.0.1:${port}/`, running);
console.log(`4. GET http://127.0.0.1:${port}/ answered:\n\n${page}`);
console.log('5. stopping the VM');
stop.abort();
const result = await running;
console.log(`   done: the server exited with status ${result.exitCode} (accelerator ${result.accel.accel})`);
process.exitCode = page.includes('Hello from kiln') && result.exitCode === 0 ? 0 : 1;

async function fetchWhenUp(url, vm) {
  let ended = false;
  vm.then(() => (ended = true), () => (ended = true));
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && !ended) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      return await response.text();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  await vm; // surfaces the VM's own error if it ended early
  throw new Error(`no answer from ${url}`);
}
