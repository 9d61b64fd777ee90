import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isKilnError } from '../../src/errors.js';
import { canonicalJson } from '../../src/util/fs.js';
import { parseManifest } from '../../src/packages/manifest.js';
import { parseRecipe } from '../../src/packages/recipe.js';
import { lockProject, readLock, recipeForLocked } from '../../src/packages/lock.js';
import { initProject, parsePackageSpec, setTomlKey } from '../../src/packages/project.js';
import { catalogueDir, DirectorySource } from '../../src/packages/sources/index.js';
import { tempDir, testContext } from '../helpers.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/packages', import.meta.url));

function context() {
  const { ctx, events } = testContext();
  return { ctx: { ...ctx, env: { ...ctx.env, KILN_CATALOGUE_DIR: join(FIXTURES, 'catalogue') } }, events };
}

test('kiln.toml problems are listed with their paths', () => {
  const text = `[package]\nname = "App"\nversion = "1"\nlicense = "MIT"\n[dependencies]\nzlib = "not a range"\n[[indexes]]\npath = "a"\nurl = "ftp://x"\n[licenses]\nallow = ["MIT OR"]\n`;
  try {
    parseManifest(text, 'kiln.toml');
    assert.fail('expected KILN_MANIFEST_INVALID');
  } catch (error) {
    assert.ok(isKilnError(error, 'KILN_MANIFEST_INVALID'));
    const details = error.details.join('\n');
    for (const path of ['package.name', 'package.version', 'dependencies.zlib', 'indexes.0.url', 'licenses.allow.0']) assert.match(details, new RegExp(`^${path.replace('.', '\\.')}: `, 'm'), details);
  }
});

test('a valid kiln.toml has the recipe sections plus indexes, target and licenses', () => {
  const m = parseManifest(`[package]\nname = "app"\nversion = "0.1.0"\nlicense = "MIT"\n[[indexes]]\nurl = "http://127.0.0.1:8080/x"\n[target]\nname = "microvm"\n[licenses]\ndeny = ["GPL-3.0-only"]\n`, 'kiln.toml');
  assert.deepEqual(m.indexes, [{ url: 'http://127.0.0.1:8080/x' }]);
  assert.equal(m.target.name, 'microvm');
  assert.deepEqual(m.licenses, { allow: [], deny: ['GPL-3.0-only'] });
  assert.deepEqual(m.dependencies, {});
});

test('setTomlKey edits one line and keeps comments and layout', () => {
  const text = '# top\n[package]\nname = "a"\n\n[dependencies]\nzlib = "^1" # pinned for a reason\n\n[build]\nsteps = [["true"]]\n';
  assert.equal(setTomlKey(text, 'dependencies', 'zlib', '^2'), text.replace('zlib = "^1" # pinned for a reason', 'zlib = "^2" # pinned for a reason'));
  assert.equal(setTomlKey(text, 'dependencies', 'lua', '^5'), text.replace('zlib = "^1" # pinned for a reason\n', 'zlib = "^1" # pinned for a reason\nlua = "^5"\n'));
  assert.equal(setTomlKey(text, 'build-dependencies', 'g++.x', '^1'), text.replace(/\n$/, '') + '\n\n[build-dependencies]\n"g++.x" = "^1"\n');
});

test('package specs: NAME or NAME@RANGE', () => {
  assert.deepEqual(parsePackageSpec('sqlite@^3.52'), { name: 'sqlite', range: '^3.52' });
  assert.deepEqual(parsePackageSpec('lua'), { name: 'lua' });
  assert.throws(() => parsePackageSpec('lua@not-a-range'), /not a semver range/);
  assert.throws(() => parsePackageSpec('Lua'), /not a package name/);
});

test('the catalogue is found from the compiled module (dist/src/...) at the repository root', () => {
  assert.equal(catalogueDir({}), fileURLToPath(new URL('../../../catalogue', import.meta.url)));
});

test('a local index lists versions from <name>/<version>/recipe.toml and checks identity', async () => {
  const dir = await tempDir();
  await cp(join(FIXTURES, 'local-index'), dir, { recursive: true });
  const source = new DirectorySource('idx', dir);
  assert.deepEqual((await source.versions('libalpha')).sort(), ['1.0.0', '1.1.0', '2.0.0']);
  assert.deepEqual(await source.versions('nothing'), []);
  assert.deepEqual(await source.dependencies('libalpha', '2.0.0'), { dependencies: { libbeta: '^2' }, buildDependencies: {} });
  await cp(join(dir, 'libbeta', '1.0.0'), join(dir, 'libbeta', '9.0.0'), { recursive: true });
  await assert.rejects(source.recipe('libbeta', '9.0.0'), /says libbeta 1\.0\.0 but is filed as libbeta 9\.0\.0/);
});

test('lockProject: canonical lock, reused unchanged, --update, recipeForLocked checks the hash', async () => {
  const { ctx } = context();
  const work = await tempDir();
  await cp(join(FIXTURES, 'local-index'), join(work, 'index'), { recursive: true });
  const project = join(work, 'app');
  await initProject(project);
  const manifest = join(project, 'kiln.toml');
  await writeFile(manifest, setTomlKey((await readFile(manifest, 'utf8')) + '\n[[indexes]]\npath = "../index"\n', 'dependencies', 'libalpha', '^1'));

  // Lock at libalpha 1.0.0 first (by range), then widen the range: the locked version stays.
  await writeFile(manifest, setTomlKey(await readFile(manifest, 'utf8'), 'dependencies', 'libalpha', '1.0.0'));
  await lockProject(ctx, project);
  await writeFile(manifest, setTomlKey(await readFile(manifest, 'utf8'), 'dependencies', 'libalpha', '^1'));
  const widened = await lockProject(ctx, project);
  assert.deepEqual(widened.packages.map((p) => `${p.name} ${p.version}`), ['libalpha 1.0.0', 'libbeta 1.1.0']);
  const text = await readFile(join(project, 'kiln.lock'), 'utf8');
  assert.equal(text, canonicalJson(JSON.parse(text)), 'canonical JSON: sorted keys, fixed indent');

  const again = await lockProject(ctx, project, { frozen: true });
  assert.deepEqual(again, await readLock(project));
  assert.equal(await readFile(join(project, 'kiln.lock'), 'utf8'), text, 'an up-to-date lock is not rewritten');

  const updated = await lockProject(ctx, project, { update: ['libalpha'] });
  assert.equal(updated.packages.find((p) => p.name === 'libalpha')?.version, '1.1.0');
  await assert.rejects(lockProject(ctx, project, { update: ['nothing'] }), /nothing is not in kiln\.lock/);

  const alpha = updated.packages.find((p) => p.name === 'libalpha')!;
  const loaded = await recipeForLocked(ctx, project, alpha);
  assert.equal(loaded.recipe.package.version, '1.1.0');
  await writeFile(loaded.file, (await readFile(loaded.file, 'utf8')) + '\n# changed\n');
  await assert.rejects(recipeForLocked(ctx, project, alpha), (error: unknown) => isKilnError(error, 'KILN_LOCK_DRIFT'));
});

test('a Debian package recipe or kiln.toml with build steps or sources is refused, each problem named', () => {
  const text = "[package]\nname = 'x'\nversion = '1.0.0'\nlicense = 'MIT'\n[debian]\npackage = 'hello'\nbinary = '/usr/bin/hello'\n[build]\nsteps = [['true']]\n[[sources]]\npath = 'a'\n";
  for (const [parse, code] of [[parseRecipe, 'KILN_RECIPE_INVALID'], [parseManifest, 'KILN_MANIFEST_INVALID']] as const) {
    assert.throws(
      () => parse(text, 'x.toml'),
      (error: unknown) =>
        isKilnError(error) &&
        error.code === code &&
        error.details.includes('build: a Debian package recipe has no build steps') &&
        error.details.includes('sources: a Debian package recipe has no sources'),
    );
  }
});

test("paths with '..' in recipes, and plain-http indexes on other hosts, are refused with their paths", () => {
  const base = "[package]\nname = 'x'\nversion = '1.0.0'\nlicense = 'MIT'\n";
  const refused = (text: string, parse: (t: string, f: string) => unknown, detail: RegExp) =>
    assert.throws(
      () => parse(text, 'x.toml'),
      (error: unknown) => isKilnError(error) && error.details.some((d) => detail.test(d)),
    );
  refused(`${base}[install]\nbinaries = ['/../../etc/shadow']\n`, parseRecipe, /^install\.binaries\.0: must be a normalised absolute path without \.\./);
  refused(`${base}[[sources]]\nnpm = 'sqlite3@6.0.1'\nmember = '../../../bin/ls'\nsha256 = '${'a'.repeat(64)}'\n`, parseRecipe, /^sources\.0\.member: must be a relative path/);
  refused(`${base}[[indexes]]\nurl = 'http://packages.example.org/kiln'\n`, parseManifest, /^indexes\.0: a plain http:\/\/ index must be on this machine/);
  // https, loopback http, and an explicit insecure = true are accepted.
  for (const index of ["url = 'https://packages.example.org/kiln'", "url = 'http://127.0.0.1:8080/kiln'", "url = 'http://packages.example.org/kiln'\ninsecure = true"]) {
    assert.equal(parseManifest(`${base}[[indexes]]\n${index}\n`, 'x.toml').indexes.length, 1);
  }
});

test("the catalogue's SQLite is built at -O2; the tests' fast copy differs from it only in CFLAGS", async () => {
  const catalogue = parseRecipe(await readFile(join(catalogueDir({}), 'sqlite', 'recipe.toml'), 'utf8'), 'catalogue/sqlite/recipe.toml');
  const fast = parseRecipe(await readFile(join(FIXTURES, 'fast-catalogue', 'sqlite', 'recipe.toml'), 'utf8'), 'fast-catalogue/sqlite/recipe.toml');
  const configure = (recipe: typeof catalogue) => recipe.build!.steps.find((step) => step[0] === './configure')!;
  assert.ok(configure(catalogue).includes('CFLAGS=-O2'), configure(catalogue).join(' '));
  assert.ok(!catalogue.build!.steps.flat().some((arg) => /-O0\b/.test(arg)), 'no -O0 anywhere in the catalogue recipe');
  assert.ok(configure(fast).includes('CFLAGS=-O0'));
  const withoutCflags = (recipe: typeof catalogue) => ({ ...recipe, build: { ...recipe.build!, steps: recipe.build!.steps.map((step) => step.filter((arg) => !arg.startsWith('CFLAGS='))) } });
  assert.deepEqual(withoutCflags(fast), withoutCflags(catalogue));
});
