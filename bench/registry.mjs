// Benchmark (not a test): push and pull throughput of the nginx image (catalogue:nginx) against
// Debian's docker-registry on loopback, cold (empty registry / empty store) and warm (every
// blob already there), beside skopeo copy of the same artifact in the same run (ratio).
// kiln is timed in-process (library push/pull); skopeo as a process, start-up included.
// Usage (after npm run build): node bench/registry.mjs [runs]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { cpus, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext } from '../dist/src/index.js';
import { push } from '../dist/src/oci/push.js';
import { pull } from '../dist/src/oci/pull.js';
import { parseReference } from '../dist/src/oci/reference.js';
import { startRegistry } from '../dist/test/registry.js';

const runs = Number(process.argv[2] ?? 3);
const cache = process.env.KILN_CACHE_DIR ?? join(homedir(), '.cache', 'kiln-test');
const scratch = mkdtempSync(join(tmpdir(), 'kiln-bench-registry-'));
const context = (dir) => createContext({ paths: { cache: dir, state: join(dir, 'state') } });

// The image: catalogue:nginx, baked through the CLI (cached after the first time).
const imageDir = join(scratch, 'nginx.img');
const baked = spawnSync(process.execPath, ['dist/src/cli/main.js', '-q', 'bake', 'catalogue:nginx', '-o', imageDir], { env: { ...process.env, KILN_CACHE_DIR: cache }, encoding: 'utf8' });
if (baked.status !== 0) throw new Error(`bake failed: ${baked.stderr}`);
const files = readdirSync(imageDir);
const bytes = files.reduce((sum, name) => sum + statSync(join(imageDir, name)).size, 0);

const time = async (body) => {
  const started = process.hrtime.bigint();
  await body();
  return Number(process.hrtime.bigint() - started) / 1e6;
};
const stats = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)] };
};
const skopeo = (...args) => execFileSync('skopeo', ['copy', '-q', ...args], { stdio: 'pipe' });

const samples = { kilnPushCold: [], kilnPushWarm: [], kilnPullCold: [], kilnPullWarm: [], skopeoPushCold: [], skopeoPushWarm: [], skopeoPullCold: [], skopeoPullWarm: [] };
for (let run = 0; run < runs; run++) {
  // A fresh registry per run, so "cold" means an empty registry for both tools.
  const kilnRegistry = await startRegistry();
  const skopeoRegistry = await startRegistry();
  try {
    const pushCtx = context(mkdtempSync(join(scratch, 'push-')));
    const ref = parseReference(`${kilnRegistry.host}/bench/nginx:1`);
    samples.kilnPushCold.push(await time(() => push(pushCtx, { images: [imageDir], reference: ref, sbomReferrer: false, client: { insecure: [kilnRegistry.host] } })));
    samples.kilnPushWarm.push(await time(() => push(pushCtx, { images: [imageDir], reference: ref, sbomReferrer: false, client: { insecure: [kilnRegistry.host] } })));
    const pullCtx = context(mkdtempSync(join(scratch, 'pull-')));
    samples.kilnPullCold.push(await time(() => pull(pullCtx, { reference: ref, client: { insecure: [kilnRegistry.host] } })));
    samples.kilnPullWarm.push(await time(() => pull(pullCtx, { reference: ref, client: { insecure: [kilnRegistry.host] } })));
    // skopeo moves the same artifact: from an oci: layout of it into the other registry and back.
    const layout = join(scratch, `layout-${run}`);
    skopeo('--src-tls-verify=false', `docker://${kilnRegistry.host}/bench/nginx:1`, `oci:${layout}:nginx`);
    const target = `docker://${skopeoRegistry.host}/bench/nginx:1`;
    samples.skopeoPushCold.push(await time(() => skopeo('--dest-tls-verify=false', `oci:${layout}:nginx`, target)));
    samples.skopeoPushWarm.push(await time(() => skopeo('--dest-tls-verify=false', `oci:${layout}:nginx`, target)));
    const back = join(scratch, `back-${run}`);
    samples.skopeoPullCold.push(await time(() => skopeo('--src-tls-verify=false', target, `oci:${back}:nginx`)));
    samples.skopeoPullWarm.push(await time(() => skopeo('--src-tls-verify=false', target, `oci:${back}:nginx`)));
  } finally {
    await kilnRegistry.stop();
    await skopeoRegistry.stop();
  }
}
rmSync(scratch, { recursive: true, force: true });

const mb = bytes / 1048576;
console.log(`kiln registry benchmark — ${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpus()[0]?.model}, ${runs} runs, loopback docker-registry`);
console.log(`image: catalogue:nginx, ${mb.toFixed(1)} MB in ${files.length} files (${files.join(', ')})`);
for (const [what, kilnKey, skopeoKey] of [
  ['push, cold', 'kilnPushCold', 'skopeoPushCold'],
  ['push, warm', 'kilnPushWarm', 'skopeoPushWarm'],
  ['pull, cold', 'kilnPullCold', 'skopeoPullCold'],
  ['pull, warm', 'kilnPullWarm', 'skopeoPullWarm'],
]) {
  const k = stats(samples[kilnKey]);
  const s = stats(samples[skopeoKey]);
  const rate = (ms) => `${(mb / (ms / 1000)).toFixed(0)} MB/s`;
  console.log(`  ${what}: kiln min ${k.min.toFixed(0)} ms, median ${k.median.toFixed(0)} ms (${rate(k.median)}); skopeo min ${s.min.toFixed(0)} ms, median ${s.median.toFixed(0)} ms (${rate(s.median)}); kiln/skopeo ${(k.median / s.median).toFixed(2)}x`);
}
