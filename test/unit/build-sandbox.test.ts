import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { lstat, readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildRecipe } from '../../src/pkgbuild/build.js';
import { isKilnError, ErrorCodes } from '../../src/errors.js';
import { loadRecipe } from '../../src/packages/recipe.js';
import { listEntries, storeDir } from '../../src/store/index.js';
import { sha256 } from '../../src/util/fs.js';
import { createContext } from '../../src/context.js';
import { MemoryReporter } from '../../src/events.js';
import { tempDir } from '../helpers.js';

/**
 * The build sandbox on tiny recipes (a shell step, no compiler): scrubbed environment,
 * SOURCE_DATE_EPOCH, no network, a failing step's log kept with the store untouched, and
 * hash-checked sources. Each test has a private cache, so nothing is shared between them.
 */

async function setup(recipe: string, files: Record<string, string> = {}) {
  const dir = await tempDir('kiln-sandbox-');
  const cache = join(dir, 'cache');
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  await writeFile(join(dir, 'recipe.toml'), `[package]\nname = "demo"\nversion = "1.0.0"\nlicense = "MIT"\n\n${recipe}`);
  const events = new MemoryReporter();
  // A variable of the caller's: it must not reach the build.
  const ctx = createContext({ paths: { cache, state: join(dir, 'state') }, reporter: events, env: { ...process.env, KILN_TEST_LEAK: 'leaked' } });
  return { ctx, dir, loaded: await loadRecipe(join(dir, 'recipe.toml')) };
}

test('steps see only the scrubbed environment, with SOURCE_DATE_EPOCH, and outputs are normalised', async () => {
  const { ctx, loaded } = await setup(`[[sources]]\npath = "input.txt"\n\n[build]\nsteps = [["sh", "-c", "mkdir -p $KILN_DESTDIR/share && env | sort > $KILN_DESTDIR/share/env && cp input.txt $KILN_DESTDIR/share/"]]\nenv = { GREETING = "hi" }\n`, { 'input.txt': 'input\n' });
  const { entry, built } = await buildRecipe(ctx, { loaded, kind: 'package', deps: [] });
  assert.equal(built, true);
  const env = Object.fromEntries(
    (await readFile(join(entry.tree, 'share', 'env'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const names = Object.keys(env).filter((n) => !['PWD', 'SHLVL', '_', 'OLDPWD'].includes(n)).sort();
  assert.deepEqual(names, ['CONFIG_SITE', 'GREETING', 'HOME', 'KILN_DESTDIR', 'KILN_JOBS', 'KILN_SYSROOT', 'KILN_TUPLE', 'LC_ALL', 'PATH', 'SOURCE_DATE_EPOCH', 'TMPDIR', 'TZ']);
  assert.equal(env.SOURCE_DATE_EPOCH, '0');
  assert.equal(env.TZ, 'UTC');
  assert.equal(env.LC_ALL, 'C');
  assert.equal(env.KILN_JOBS, '2');
  assert.match(env.PATH!, /toolchain\/bin:\/usr\/local\/bin:\/usr\/bin:\/bin/);
  assert.equal(env.KILN_TEST_LEAK, undefined);
  const info = await lstat(join(entry.tree, 'share', 'input.txt'));
  assert.equal(info.mtimeMs, 0);
  assert.equal(info.mode & 0o777, 0o644);

  // Same inputs: the same key, found in the store without building.
  const again = await buildRecipe(ctx, { loaded, kind: 'package', deps: [] });
  assert.equal(again.built, false);
  assert.equal(again.entry.key, entry.key);
});

test('a step has no network: connecting to a server on the host fails', async () => {
  const server = createServer((_req, res) => res.end('reachable'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  try {
    // The same program outside the sandbox reaches the server (so the failure below is the sandbox).
    const probe = `require('http').get('http://127.0.0.1:${port}/', (r) => process.exit(r.statusCode === 200 ? 0 : 2)).on('error', (e) => { console.error('network: ' + e.code); process.exit(7); })`;
    const outside = await new Promise<number | null>((resolve) => {
      import('node:child_process').then(({ spawn }) => spawn(process.execPath, ['-e', probe], { stdio: 'ignore' }).once('close', resolve));
    });
    assert.equal(outside, 0);
    const { ctx, loaded } = await setup(`[build]\nsteps = [["node", "-e", ${JSON.stringify(probe)}]]\n`);
    await assert.rejects(buildRecipe(ctx, { loaded, kind: 'package', deps: [] }), (error: unknown) => {
      assert.ok(isKilnError(error, ErrorCodes.BUILD_FAILED), String(error));
      assert.ok(error.details.some((d) => /network: E(CONNREFUSED|NETUNREACH)/.test(d)), error.details.join('\n'));
      return true;
    });
  } finally {
    server.close();
  }
});

test("a step cannot write to the host outside its work tree (the host's root is read-only for it)", async () => {
  const probe = `/etc/kiln-sandbox-probe-${process.pid}`;
  // Step 1 writes inside the work tree (absolute and relative paths): fine. Step 2 writes to /etc.
  const { ctx, loaded } = await setup(`[build]\nsteps = [["sh", "-c", "touch $KILN_DESTDIR/inside && echo ok > relative && mkdir -p $TMPDIR/x && touch $HOME/h"], ["touch", "${probe}"]]\n`);
  await assert.rejects(buildRecipe(ctx, { loaded, kind: 'package', deps: [] }), (error: unknown) => {
    assert.ok(isKilnError(error, ErrorCodes.BUILD_FAILED), String(error));
    assert.match(error.message, /step 2\/2/);
    assert.ok(error.details.some((d) => /Read-only file system/.test(d)), error.details.join('\n'));
    return true;
  });
  await assert.rejects(lstat(probe), 'nothing was written under /etc');
});

test('a step has no capabilities: it cannot remount the host writable, and /dev/shm is its own', async () => {
  const marker = `/dev/shm/kiln-sandbox-probe-${process.pid}`;
  const { ctx, loaded } = await setup(`[build]\nsteps = [["touch", "${marker}"], ["mount", "-o", "remount,rw", "/"]]\n`);
  await assert.rejects(buildRecipe(ctx, { loaded, kind: 'package', deps: [] }), (error: unknown) => {
    assert.ok(isKilnError(error, ErrorCodes.BUILD_FAILED), String(error));
    assert.match(error.message, /step 2\/2/);
    assert.ok(error.details.some((d) => /permission denied|must be superuser|Operation not permitted/i.test(d)), error.details.join('\n'));
    return true;
  });
  await assert.rejects(lstat(marker), "the step's /dev/shm is a private tmpfs, not the host's");
});

test('a failing step keeps its log, names the argv, and leaves the store untouched', async () => {
  const { ctx, loaded } = await setup(`[build]\nsteps = [["sh", "-c", "echo step one ran"], ["sh", "-c", "echo about to fail; echo oops >&2; exit 3"], ["true"]]\n`);
  const error = await buildRecipe(ctx, { loaded, kind: 'package', deps: [] }).then(
    () => assert.fail('the build should fail'),
    (e: unknown) => e,
  );
  assert.ok(isKilnError(error, ErrorCodes.BUILD_FAILED), String(error));
  assert.match(error.message, /step 2\/3: sh -c echo about to fail/);
  assert.match(error.message, /exit status 3/);
  assert.ok(error.details.includes('argv: ["sh","-c","echo about to fail; echo oops >&2; exit 3"]'));
  assert.ok(error.details.includes('oops'));
  const logLine = error.details.find((d) => d.startsWith('log: '))!;
  const log = await readFile(logLine.slice(5), 'utf8');
  assert.match(log, /step one ran[\s\S]*about to fail[\s\S]*oops/);
  assert.equal((await listEntries(ctx)).length, 0);
  assert.deepEqual((await readdir(storeDir(ctx))).filter((n) => n.includes('.tmp-')), []);
  assert.deepEqual(await readdir(join(storeDir(ctx), '.build')), [], 'the work tree is removed');
});

test('a source whose bytes do not match its sha256 is refused (path and url), a good url is cached by hash', async () => {
  const body = 'source bytes\n';
  const server = createServer((_req, res) => res.end(body));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/src.txt`;
  try {
    const wrong = sha256('something else');
    const bad = await setup(`[[sources]]\npath = "input.txt"\nsha256 = "${wrong}"\n\n[build]\nsteps = [["true"]]\n`, { 'input.txt': body });
    await assert.rejects(buildRecipe(bad.ctx, { loaded: bad.loaded, kind: 'package', deps: [] }), (e: unknown) => isKilnError(e, ErrorCodes.SOURCE_HASH_MISMATCH) && e.details.some((d) => d.includes(wrong)));
    const badUrl = await setup(`[[sources]]\nurl = "${url}"\nsha256 = "${wrong}"\nextract = false\n\n[build]\nsteps = [["true"]]\n`);
    await assert.rejects(buildRecipe(badUrl.ctx, { loaded: badUrl.loaded, kind: 'package', deps: [] }), (e: unknown) => isKilnError(e, ErrorCodes.SOURCE_HASH_MISMATCH));
    assert.equal((await listEntries(badUrl.ctx)).length, 0);
    const good = await setup(`[[sources]]\nurl = "${url}"\nsha256 = "${sha256(body)}"\nextract = false\n\n[build]\nsteps = [["install", "-D", "src.txt", "$KILN_DESTDIR/share/src.txt"]]\n`);
    const { entry } = await buildRecipe(good.ctx, { loaded: good.loaded, kind: 'package', deps: [] });
    assert.equal(await readFile(join(entry.tree, 'share', 'src.txt'), 'utf8'), body);
    assert.equal(await readFile(join(good.ctx.paths.cache, 'sources', sha256(body)), 'utf8'), body);
  } finally {
    server.close();
  }
});

test('an unsafe archive source is refused before the build, and the store stays empty', async () => {
  const { Header } = await import('tar');
  const block = Buffer.alloc(512);
  new Header({ path: '/etc/evil', type: 'File', size: 0, mode: 0o644, mtime: new Date(0) }).encode(block, 0);
  const dir = await tempDir('kiln-sandbox-');
  await mkdir(dir, { recursive: true });
  const { ctx, loaded } = await setup(`[[sources]]\npath = "evil.tar"\n\n[build]\nsteps = [["true"]]\n`, { 'evil.tar': Buffer.concat([block, Buffer.alloc(1024)]).toString('latin1') });
  await assert.rejects(buildRecipe(ctx, { loaded, kind: 'package', deps: [] }), (e: unknown) => isKilnError(e, ErrorCodes.ARCHIVE_UNSAFE) && e.details.some((d) => d.startsWith('/etc/evil')));
  assert.equal((await listEntries(ctx)).length, 0);
});
