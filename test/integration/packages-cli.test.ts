import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from '../../src/util/fs.js';
import { tempDir, runKiln, type CliRun } from '../helpers.js';

/**
 * The package workflow as a user types it: kiln init, kiln add from a local index and from an
 * index served over HTTP (on 127.0.0.1), kiln lock / tree / why, --frozen refusing drift, and
 * the explanation when no versions fit.
 */
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/packages', import.meta.url));


function kiln(args: string[], cwd: string): Promise<CliRun> {
  return runKiln(args, { cwd, env: { KILN_CATALOGUE_DIR: join(FIXTURES, 'catalogue') } });
}

/** A static file server for a directory, as any web server would serve an index. */
function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(dir)) {
      res.writeHead(403).end();
      return;
    }
    stat(path).then(
      (s) => {
        if (!s.isFile()) return void res.writeHead(404).end();
        res.writeHead(200);
        createReadStream(path).pipe(res);
      },
      () => void res.writeHead(404).end(),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo` })));
}

let work: string;
let project: string;
let localIndex: string;
let httpIndex: string;
let http: { server: Server; url: string };

before(async () => {
  work = await tempDir('kiln-packages-');
  localIndex = join(work, 'local-index');
  httpIndex = join(work, 'served', 'repo');
  await cp(join(FIXTURES, 'local-index'), localIndex, { recursive: true });
  await cp(join(FIXTURES, 'http-index'), httpIndex, { recursive: true });
  const built = await kiln(['index', 'build', httpIndex], work);
  assert.equal(built.code, 0, built.stderr);
  http = await serve(join(work, 'served'));
  project = join(work, 'myapp');
});

after(() => {
  if (http?.server.listening) http.server.close();
});

test('init writes kiln.toml and main.c, and refuses to overwrite them', async () => {
  const init = await kiln(['init', project], work);
  assert.equal(init.code, 0, init.stderr);
  const manifest = await readFile(join(project, 'kiln.toml'), 'utf8');
  assert.match(manifest, /name = "myapp"/);
  assert.match(manifest, /x86_64-kiln-linux-musl-gcc/);
  assert.match(await readFile(join(project, 'main.c'), 'utf8'), /hello from myapp/);
  const again = await kiln(['init', project], work);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /KILN_OUTPUT_EXISTS/);
  const check = await kiln(['recipe', 'check', join(project, 'kiln.toml')], work);
  assert.equal(check.code, 0, check.stderr);
});

test('add from a local index and from an HTTP index, then tree and why', async () => {
  const text = await readFile(join(project, 'kiln.toml'), 'utf8');
  await writeFile(join(project, 'kiln.toml'), `${text}\n# where packages come from\n[[indexes]]\npath = "../local-index"\n\n[[indexes]]\nurl = "${http.url}"\n`);

  const unknown = await kiln(['add', 'libalfa'], project);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /KILN_PACKAGE_UNKNOWN[\s\S]*did you mean libalpha/);

  const alpha = await kiln(['add', 'libalpha@^1'], project);
  assert.equal(alpha.code, 0, alpha.stderr);
  const webby = await kiln(['add', 'webby'], project);
  assert.equal(webby.code, 0, webby.stderr);
  const greeter = await kiln(['add', 'greeter'], project);
  assert.equal(greeter.code, 0, greeter.stderr);

  const manifest = await readFile(join(project, 'kiln.toml'), 'utf8');
  assert.match(manifest, /\[dependencies\]\nlibalpha = "\^1"\nwebby = "\^0\.4\.0"\ngreeter = "\^2\.10\.0"\n/);
  assert.match(manifest, /# where packages come from/, 'the user comment is kept');

  const lock = JSON.parse(await readFile(join(project, 'kiln.lock'), 'utf8'));
  const byName = Object.fromEntries(lock.packages.map((p: { name: string }) => [p.name, p]));
  assert.deepEqual(lock.packages.map((p: { name: string; version: string }) => `${p.name} ${p.version}`), ['greeter 2.10.0', 'libalpha 1.1.0', 'libbeta 1.1.0', 'mkgen 1.0.0', 'tinycat 1.2.0', 'webby 0.4.0']);
  assert.equal(byName.webby.source, http.url);
  assert.equal(byName.libalpha.source, '../local-index');
  assert.equal(byName.tinycat.source, 'catalogue');
  assert.equal(byName.mkgen.buildOnly, true);
  assert.equal(byName.mkgen.sources[0].sha256.length, 64, 'an unhashed local file is hashed into the lock');
  const motd = sha256(await readFile(join(FIXTURES, 'catalogue', 'tinycat', 'motd.txt')));
  assert.deepEqual(byName.tinycat.data, [{ path: 'motd.txt', sha256: motd }], 'data files beside a recipe are hashed into the lock');
  assert.equal(byName.greeter.debian.package, 'hello');
  assert.ok(byName.greeter.debian.closure.some((e: { package: string; sha256: string }) => e.package === 'hello' && e.sha256.length === 64));

  const tree = await kiln(['tree'], project);
  assert.equal(tree.code, 0, tree.stderr);
  assert.match(tree.stdout, /^myapp 0\.1\.0\n/);
  assert.match(tree.stdout, /webby 0\.4\.0\n.*libbeta 1\.1\.0.*\n.*tinycat 1\.2\.0\n.*mkgen 1\.0\.0 \(build\)/);
  assert.match(tree.stdout, /greeter 2\.10\.0 \(debian\)/);

  const why = await kiln(['why', 'libbeta'], project);
  assert.equal(why.code, 0, why.stderr);
  assert.deepEqual(why.stdout.trim().split('\n').sort(), ['myapp 0.1.0 -> libalpha 1.1.0 -> libbeta 1.1.0', 'myapp 0.1.0 -> webby 0.4.0 -> libbeta 1.1.0']);
  const whyBuild = await kiln(['why', 'mkgen'], project);
  assert.equal(whyBuild.stdout.trim(), 'myapp 0.1.0 -> webby 0.4.0 -> (build) mkgen 1.0.0');

  // An unchanged project keeps its lock byte for byte.
  const before = await readFile(join(project, 'kiln.lock'), 'utf8');
  const relock = await kiln(['lock', '--frozen'], project);
  assert.equal(relock.code, 0, relock.stderr);
  assert.equal(await readFile(join(project, 'kiln.lock'), 'utf8'), before);
});

test('--frozen lists each drift; a plain lock accepts it', async () => {
  const manifestPath = join(project, 'kiln.toml');
  const original = await readFile(manifestPath, 'utf8');
  await writeFile(manifestPath, original.replace('libalpha = "^1"', 'libalpha = "~1.0"').replace('greeter = "^2.10.0"\n', 'tinycat = "^1"\n'));
  const recipe = join(localIndex, 'libbeta', '1.1.0', 'recipe.toml');
  await writeFile(recipe, (await readFile(recipe, 'utf8')) + '\n[runtime]\nargs = ["--quiet"]\n');

  const frozen = await kiln(['lock', '--frozen'], project);
  assert.equal(frozen.code, 125);
  assert.match(frozen.stderr, /KILN_LOCK_DRIFT/);
  assert.match(frozen.stderr, /dependency libalpha: range changed from \^1 to ~1\.0/);
  assert.match(frozen.stderr, /new dependency tinycat \^1/);
  assert.match(frozen.stderr, /removed dependency greeter/);
  assert.match(frozen.stderr, /libbeta 1\.1\.0: recipe changed/);

  const lock = await kiln(['lock'], project);
  assert.equal(lock.code, 0, lock.stderr);
  assert.match(lock.stderr, /libalpha 1\.1\.0 -> 1\.0\.0/);
  assert.match(lock.stderr, /- greeter/);
  const relock = await kiln(['lock', '--frozen'], project);
  assert.equal(relock.code, 0, relock.stderr);
});

test('a conflict is explained as a chain of requirements, and kiln.toml is left as it was', async () => {
  const manifestPath = join(project, 'kiln.toml');
  const before = await readFile(manifestPath, 'utf8');
  const conflict = await kiln(['add', 'libalpha@^2'], project);
  assert.equal(conflict.code, 125);
  assert.match(conflict.stderr, /KILN_NO_SOLUTION/);
  assert.match(conflict.stderr, /libalpha \^2 depends on libbeta \^2/);
  assert.match(conflict.stderr, /webby .*depends on libbeta \^1/);
  assert.match(conflict.stderr, /no versions satisfy the requirements\./);
  assert.equal(await readFile(manifestPath, 'utf8'), before);
});

test('an HTTP index serving a recipe that differs from its index.json is refused', async () => {
  const other = await tempDir('kiln-packages-tamper-');
  const served = join(other, 'repo');
  await cp(join(FIXTURES, 'http-index'), served, { recursive: true });
  // A recipe no earlier test has cached (the cache is keyed by the sha256 index.json states).
  const recipe = join(served, 'webby', '0.4.0', 'recipe.toml');
  const text = await readFile(recipe, 'utf8');
  await writeFile(recipe, text.replace('test fixture', `indexed ${Date.now()}`));
  assert.equal((await kiln(['index', 'build', served], other)).code, 0);
  await writeFile(recipe, text.replace('test fixture', 'tampered after indexing'));
  const tampered = await serve(other);
  try {
    const app = join(other, 'app');
    assert.equal((await kiln(['init', app], other)).code, 0);
    await writeFile(join(app, 'kiln.toml'), `${await readFile(join(app, 'kiln.toml'), 'utf8')}\n[[indexes]]\npath = "${localIndex}"\n[[indexes]]\nurl = "${tampered.url}"\n`);
    const add = await kiln(['add', 'webby'], app);
    assert.equal(add.code, 125);
    assert.match(add.stderr, /KILN_INDEX_INVALID[\s\S]*does not match its index/);
  } finally {
    tampered.server.close();
  }
});

test('a recipe served over HTTP that names a local file is refused, even with a matching index', async () => {
  const other = await tempDir('kiln-packages-local-');
  const served = join(other, 'repo');
  await cp(join(FIXTURES, 'http-index'), served, { recursive: true });
  const recipe = join(served, 'webby', '0.4.0', 'recipe.toml');
  // Indexed as it is: the hash matches, so only the local-path rule can refuse it.
  await writeFile(recipe, `${(await readFile(recipe, 'utf8')).replace('test fixture', `local ${Date.now()}`)}\n[[sources]]\npath = "/root/.ssh"\n`);
  assert.equal((await kiln(['index', 'build', served], other)).code, 0);
  const index = await serve(other);
  try {
    const app = join(other, 'app');
    assert.equal((await kiln(['init', app], other)).code, 0);
    await writeFile(join(app, 'kiln.toml'), `${await readFile(join(app, 'kiln.toml'), 'utf8')}\n[[indexes]]\npath = "${localIndex}"\n[[indexes]]\nurl = "${index.url}"\n`);
    const add = await kiln(['add', 'webby'], app);
    assert.equal(add.code, 125);
    assert.match(add.stderr, /KILN_INDEX_INVALID[\s\S]*names local files: source path \/root\/\.ssh/);
  } finally {
    index.server.close();
  }
});

test('a locked project whose HTTP index is down still passes --frozen from the cached recipes', async () => {
  await new Promise<void>((resolve) => http.server.close(() => resolve()));
  const frozen = await kiln(['lock', '--frozen'], project);
  assert.equal(frozen.code, 0, frozen.stderr);
  assert.match(frozen.stderr, /warning KILN_INDEX_UNREACHABLE: cannot reach .*using the cached recipe of webby 0\.4\.0/);
});
