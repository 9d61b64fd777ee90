// Benchmark (not a test): the cost of the kiln compiler wrapper over the compiler it wraps.
// configure scripts run the compiler hundreds of times, so start-up time matters. Runs each
// command N times (default 50), prints min and median and the wrapper/direct ratio.
// Usage: node bench/toolchain.mjs [runs]
import { spawnSync } from 'node:child_process';
import { homedir, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { createContext, installToolchain } from '../dist/src/index.js';

const runs = Number(process.argv[2] ?? 50);
const cache = process.env.KILN_CACHE_DIR ?? join(homedir(), '.cache', 'kiln-test');
const ctx = createContext({ paths: { cache, state: join(tmpdir(), 'kiln-bench-state') } });
const toolchain = await installToolchain(ctx);
const musl = toolchain.tuples.find((t) => t.tuple === 'x86_64-kiln-linux-musl');
if (!musl) throw new Error('the x86_64-kiln-linux-musl tuple is not installed');

const timeOf = (program, args) => {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    const result = spawnSync(program, args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${program} failed: ${result.stderr}`);
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { min: samples[0], median: samples[Math.floor(samples.length / 2)] };
};

console.log(`kiln toolchain benchmark — ${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpus()[0]?.model}, ${runs} runs each`);
const wrapper = timeOf(join(toolchain.binDir, 'x86_64-kiln-linux-musl-gcc'), ['-dumpmachine']);
const direct = timeOf('gcc', ['-dumpmachine']);
const fmt = (s) => `min ${s.min.toFixed(2)} ms, median ${s.median.toFixed(2)} ms`;
console.log(`  wrapper -dumpmachine: ${fmt(wrapper)}`);
console.log(`  gcc -dumpmachine:     ${fmt(direct)}`);
console.log(`  ratio (median):       ${(wrapper.median / direct.median).toFixed(2)}x`);
// A real compile: the wrapper's argument checks and specs on top of gcc's own work.
const object = join(tmpdir(), `kiln-bench-${process.pid}.o`);
const compileWrapped = timeOf(join(toolchain.binDir, 'x86_64-kiln-linux-musl-gcc'), ['-O2', '-c', 'examples/hello/hello.c', '-o', object]);
const compileDirect = timeOf('musl-gcc', ['-O2', '-c', 'examples/hello/hello.c', '-o', object]);
console.log(`  wrapper -c hello.c:   ${fmt(compileWrapped)}`);
console.log(`  musl-gcc -c hello.c:  ${fmt(compileDirect)}`);
console.log(`  ratio (median):       ${(compileWrapped.median / compileDirect.median).toFixed(2)}x`);
