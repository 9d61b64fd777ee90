import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isKilnError, ErrorCodes } from '../../src/errors.js';
import { parseRelations, parseProvides, versionSatisfies } from '../../src/debian/relations.js';
import { resolveClosureIn, universeFrom, type AvailablePackage } from '../../src/debian/closure.js';
import { debianExpressionToSpdx, licenseFromCopyright } from '../../src/debian/license.js';
import { assertSafe, listDeb, unsafeEntries, type DebEntry } from '../../src/debian/archive.js';
import { parseDependsListing, suggestNames } from '../../src/debian/resolve.js';
import { parseRecipe } from '../../src/packages/recipe.js';
import { realiseDebian } from '../../src/debian/realise.js';
import type { DebianLock } from '../../src/debian/types.js';
import { sha256File } from '../../src/util/fs.js';
import { copyFile, readFile } from 'node:fs/promises';
import { run } from '../../src/util/exec.js';
import { tempDir, testContext } from '../helpers.js';

test('Depends fields parse into clauses of alternatives', () => {
  const clauses = parseRelations('libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, perl:any, python3:native (<< 3.12), foo (> 1)');
  assert.deepEqual(clauses, [
    [{ name: 'libc6', op: '>=', version: '2.34' }],
    [{ name: 'debconf', op: '>=', version: '0.5' }, { name: 'debconf-2.0' }],
    [{ name: 'perl', archQualifier: 'any' }],
    [{ name: 'python3', archQualifier: 'native', op: '<<', version: '3.12' }],
    // ">" is the obsolete spelling of ">=".
    [{ name: 'foo', op: '>=', version: '1' }],
  ]);
  assert.deepEqual(parseRelations('a,\n b (= 1:2.0-1)'), [[{ name: 'a' }], [{ name: 'b', op: '=', version: '1:2.0-1' }]]);
  assert.deepEqual(parseRelations(''), []);
  assert.deepEqual(parseProvides('httpd, nginx-abi-1.22.1-7, libfoo (= 1.2)'), [{ name: 'httpd' }, { name: 'nginx-abi-1.22.1-7' }, { name: 'libfoo', version: '1.2' }]);
  assert.throws(() => parseRelations('Bad Name'));
});

test('version constraints follow Debian ordering', () => {
  assert.ok(versionSatisfies('5:7.0.15-1~deb12u10', '=', '5:7.0.15-1~deb12u10'));
  assert.ok(versionSatisfies('1.54~', '>=', '1.54~'));
  assert.ok(versionSatisfies('1.54', '>=', '1.54~'));
  assert.ok(!versionSatisfies('1.0~rc1', '>=', '1.0'));
  assert.ok(versionSatisfies('1.22.1-9+deb12u11', '<<', '1.22.1-9+deb12u11.1~'));
  assert.ok(versionSatisfies('anything', undefined, undefined));
});

function pkg(name: string, version: string, fields: { depends?: string; provides?: string; priority?: string } = {}): AvailablePackage {
  return {
    package: name,
    version,
    architecture: 'amd64',
    sha256: 'a'.repeat(64),
    size: 1,
    filename: `pool/${name}_${version}.deb`,
    source: { package: name, version },
    depends: parseRelations(fields.depends),
    provides: parseProvides(fields.provides),
    priority: fields.priority ?? 'optional',
  };
}

test('closure: alternatives take the first installable one, virtual packages a provider', () => {
  const root = pkg('app', '1', { depends: 'missing-lib | libb (>= 2), mail-transport-agent, debconf | debconf-2.0, adduser' });
  const universe = universeFrom([
    root,
    pkg('libb', '2.1', { depends: 'libc6 (>= 2.34)' }),
    pkg('libc6', '2.36'),
    pkg('postfix', '3', { provides: 'mail-transport-agent', priority: 'optional' }),
    pkg('exim4', '4', { provides: 'mail-transport-agent', priority: 'standard' }),
    pkg('debconf', '1.5'),
    pkg('adduser', '3'),
  ]);
  const result = resolveClosureIn(universe, root);
  assert.deepEqual(
    result.packages.map((p) => `${p.package}=${p.version}`),
    ['app=1', 'exim4=4', 'libb=2.1', 'libc6=2.36'],
  );
  // Install-time-only packages are left out, and said so.
  assert.deepEqual(result.dropped, ['app: adduser', 'app: debconf | debconf-2.0']);
  assert.equal(result.pulledBy.get('libc6'), 'libb');
});

test('closure: a constraint the candidate misses takes another known version; versioned Provides', () => {
  const root = pkg('app', '1', { depends: 'libx (= 1.0-1), libabi-3' });
  const universe = universeFrom([root, pkg('libx', '2.0-1'), pkg('libimpl', '1', { provides: 'libabi-3 (= 3)' })], [pkg('libx', '1.0-1'), pkg('libx', '0.9-1')]);
  assert.deepEqual(
    resolveClosureIn(universe, root).packages.map((p) => `${p.package}=${p.version}`),
    ['app=1', 'libimpl=1', 'libx=1.0-1'],
  );
  // An unversioned Provides does not satisfy a versioned dependency.
  const strict = pkg('app', '1', { depends: 'virt (>= 2)' });
  assert.throws(
    () => resolveClosureIn(universeFrom([strict, pkg('impl', '1', { provides: 'virt' })]), strict),
    (error: unknown) => isKilnError(error, ErrorCodes.DEBIAN_UNRESOLVABLE) && /virt \(>= 2\)/.test(error.message),
  );
});

test('closure: several roots share one closure (a program and the packages beside it)', () => {
  const app = pkg('xen-utils', '4.17', { depends: 'libc6 (>= 2.34), libxen' });
  const shell = pkg('bash', '5.2', { depends: 'libc6 (>= 2.36), libtinfo6' });
  const universe = universeFrom([app, shell, pkg('libc6', '2.36'), pkg('libxen', '4.17'), pkg('libtinfo6', '6.4')]);
  assert.deepEqual(
    resolveClosureIn(universe, [app, shell]).packages.map((p) => p.package),
    ['bash', 'libc6', 'libtinfo6', 'libxen', 'xen-utils'],
  );
  // One root alone is the same as before.
  assert.deepEqual(resolveClosureIn(universe, [app]).packages, resolveClosureIn(universe, app).packages);
});

test('closure: unresolvable dependencies name the chain', () => {
  const root = pkg('app', '1', { depends: 'liba' });
  const universe = universeFrom([root, pkg('liba', '1', { depends: 'libgone (>= 5)' }), pkg('libgone', '4')]);
  assert.throws(
    () => resolveClosureIn(universe, root),
    (error: unknown) => isKilnError(error, ErrorCodes.DEBIAN_UNRESOLVABLE) && error.details.some((d) => d.includes('app 1 -> liba 1')),
  );
});

test('closure resolution is deterministic whatever the order apt lists packages in', () => {
  const root = pkg('app', '1', { depends: 'httpd, libz' });
  const others = [pkg('nginx', '1', { provides: 'httpd', depends: 'libz' }), pkg('apache2', '2', { provides: 'httpd' }), pkg('libz', '1')];
  const a = resolveClosureIn(universeFrom([root, ...others]), root).packages.map((p) => p.package);
  const b = resolveClosureIn(universeFrom([root, ...others.reverse()]), root).packages.map((p) => p.package);
  assert.deepEqual(a, b);
  assert.deepEqual(a, ['apache2', 'app', 'libz']);
});

test('Debian license names map to SPDX', () => {
  const cases: [string, string][] = [
    ['GPL-2+', 'GPL-2.0-or-later'],
    ['GPL-2', 'GPL-2.0-only'],
    ['LGPL-2.1+', 'LGPL-2.1-or-later'],
    ['BSD-3-clause', 'BSD-3-Clause'],
    ['Expat', 'MIT'],
    ['Zlib', 'Zlib'],
    ['Apache-2.0', 'Apache-2.0'],
    ['GPL-1+ or Artistic', 'GPL-1.0-or-later OR Artistic-1.0-Perl'],
    ['BSD-3-clause and Expat', 'BSD-3-Clause AND MIT'],
    ['GPL-3+ with GCC-Runtime exception', 'GPL-3.0-or-later WITH GCC-exception-3.1'],
    ['public-domain', 'LicenseRef-public-domain'],
    ['Sleepycat', 'Sleepycat'],
    ['MIT-X11', 'LicenseRef-Debian-MIT-X11'],
  ];
  for (const [debian, spdx] of cases) assert.equal(debianExpressionToSpdx(debian), spdx, debian);
});

test('copyright files: the License of "Files: *" in DEP-5 files, NOASSERTION otherwise', () => {
  const dep5 = [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: redis',
    '',
    'Files: *',
    'Copyright: Salvatore Sanfilippo',
    'License: BSD-3-clause',
    '',
    'Files: deps/jemalloc/*',
    'License: BSD-2-clause',
    '',
    'License: BSD-3-clause',
    ' Redistribution and use ...',
    ' .',
    ' more text',
  ].join('\n');
  assert.equal(licenseFromCopyright(dep5), 'BSD-3-Clause');
  assert.equal(licenseFromCopyright('This is the Debian prepackaged version of the GNU C Library.\n'), 'NOASSERTION');
  assert.equal(licenseFromCopyright(undefined), 'NOASSERTION');
});

const entry = (path: string, type: DebEntry['type'], linkpath?: string): DebEntry => ({ path, type, raw: `./${path}`, ...(linkpath ? { linkpath } : {}) });

test('unsafe archive entries are named', () => {
  const problems = unsafeEntries([
    {
      name: 'evil',
      entries: [
        entry('usr/lib/ok', 'symlink', '../share/x'),
        entry('usr/lib/abs', 'symlink', '/usr/share/x'),
        entry('usr/lib/out', 'symlink', '../../../etc/shadow'),
        entry('usr/../../etc/passwd', 'file'),
        entry('usr/hard', 'hardlink', '../etc/passwd'),
        entry('dev/null', 'other'),
        entry('usr/lib/abs/through', 'file'),
      ],
    },
  ]);
  assert.deepEqual(problems.map((p) => p.split(': ').slice(-1)[0]), [
    'symlink points outside the package root',
    'path climbs out with ..',
    'hard link outside the package root',
    'special file (device, fifo or unknown type)',
    'lies below the symlink usr/lib/abs',
  ]);
});

test('a .deb with an escaping symlink is refused before anything is unpacked', async () => {
  const work = await tempDir('kiln-deb-');
  const tree = join(work, 'tree');
  await mkdir(join(tree, 'DEBIAN'), { recursive: true });
  await mkdir(join(tree, 'usr', 'share', 'evil'), { recursive: true });
  await writeFile(join(tree, 'DEBIAN', 'control'), 'Package: evil\nVersion: 1.0\nArchitecture: all\nMaintainer: nobody <nobody@example.org>\nDescription: escapes\n');
  await writeFile(join(tree, 'usr', 'share', 'evil', 'README'), 'hello\n');
  await symlink('../../../../../etc', join(tree, 'usr', 'share', 'evil', 'etc'));
  const deb = join(work, 'evil.deb');
  await run('dpkg-deb', ['--root-owner-group', '-b', tree, deb]);
  const entries = await listDeb(deb);
  assert.ok(entries.some((e) => e.path === 'usr/share/evil/README' && e.type === 'file'));
  assert.throws(
    () => assertSafe([{ name: 'evil', entries }]),
    (error: unknown) => isKilnError(error, ErrorCodes.ARCHIVE_UNSAFE) && error.details.some((d) => d.includes('usr/share/evil/etc -> ../../../../../etc')),
  );
  // The well-behaved part of the same package on its own passes.
  assertSafe([{ name: 'evil', entries: entries.filter((e) => e.type !== 'symlink') }]);
  assert.deepEqual((await readdir(work)).sort(), ['evil.deb', 'tree']);
});

test('apt-cache depends listings give real package names of the native architecture', () => {
  const listing = ['redis-server', '  PreDepends: init-system-helpers', '  Depends: lsb-base', '    sysvinit-utils:arm64', '    sysvinit-utils', ' |Depends: usrmerge', '  Depends: <nginx-abi-1.22.1-7>', '    nginx', 'libc6:amd64'].join('\n');
  assert.deepEqual(parseDependsListing(listing, 'amd64'), ['init-system-helpers', 'libc6', 'lsb-base', 'nginx', 'redis-server', 'sysvinit-utils', 'usrmerge']);
});

test('unknown package names get close suggestions', () => {
  const names = ['redis-server', 'redis-tools', 'redis-sentinel', 'nginx', 'lua5.4', 'pdns-server'];
  assert.equal(suggestNames('redis-serverr', names)[0], 'redis-server');
  assert.deepEqual(suggestNames('redis', names).slice(0, 3).sort(), ['redis-sentinel', 'redis-server', 'redis-tools']);
  assert.deepEqual(suggestNames('ngnix', names), ['nginx']);
  assert.equal(suggestNames('ngnix', [...names, 'afnix', 'nunit', 'xonix'])[0], 'nginx');
});

test('recipes take [[data]] files relative to the recipe, never outside it', () => {
  const base = '[package]\nname = "x"\nversion = "1.0.0"\nlicense = "MIT"\n[debian]\npackage = "nginx"\nbinary = "/usr/sbin/nginx"\n';
  const recipe = parseRecipe(`${base}[[data]]\npath = "nginx.conf"\ndest = "/etc/nginx/nginx.conf"\n`, 'r.toml');
  assert.deepEqual(recipe.data, [{ path: 'nginx.conf', dest: '/etc/nginx/nginx.conf' }]);
  assert.throws(() => parseRecipe(`${base}[[data]]\npath = "../secret"\ndest = "/etc/x"\n`, 'r.toml'), (error: unknown) => isKilnError(error, ErrorCodes.RECIPE_INVALID) && error.details.some((d) => d.startsWith('data.0.path')));
});

test('Debian recipes may name more packages and other programs; both must be well formed', () => {
  const base = '[package]\nname = "x"\nversion = "1.0.0"\nlicense = "MIT"\n[debian]\npackage = "xen-utils-4.17"\nbinary = "/bin/busybox"\n';
  const recipe = parseRecipe(`${base}packages = ["busybox-static", "bash"]\nprograms = ["/usr/lib/xen-4.17/bin/xl", "/bin/bash"]\n`, 'r.toml');
  assert.deepEqual(recipe.debian?.packages, ['busybox-static', 'bash']);
  assert.deepEqual(recipe.debian?.programs, ['/usr/lib/xen-4.17/bin/xl', '/bin/bash']);
  assert.deepEqual(parseRecipe(base, 'r.toml').debian?.packages, []);
  assert.throws(() => parseRecipe(`${base}packages = ["Bad Name"]\n`, 'r.toml'), (error: unknown) => isKilnError(error, ErrorCodes.RECIPE_INVALID) && error.details.some((d) => d.startsWith('debian.packages.0')));
  assert.throws(() => parseRecipe(`${base}programs = ["../../etc/shadow"]\n`, 'r.toml'), (error: unknown) => isKilnError(error, ErrorCodes.RECIPE_INVALID) && error.details.some((d) => d.startsWith('debian.programs.0')));
});

/** Builds a .deb from files (path -> content, or {link}) with dpkg-deb -b. */
async function makeDeb(work: string, name: string, files: Record<string, string | { link: string }>): Promise<string> {
  const tree = join(work, `${name}-tree`);
  await mkdir(join(tree, 'DEBIAN'), { recursive: true });
  await writeFile(join(tree, 'DEBIAN', 'control'), `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: nobody <nobody@example.org>\nDepends: libc6 (>= 2.34)\nDescription: test\n`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(tree, path, '..'), { recursive: true });
    if (typeof content === 'string') await writeFile(join(tree, path), content);
    else await symlink(content.link, join(tree, path));
  }
  const deb = join(work, `${name}.deb`);
  await run('dpkg-deb', ['--root-owner-group', '-b', tree, deb]);
  return deb;
}

/** A lock for one local .deb, with the .deb put in the cache's store so that apt is not asked. */
async function lockFor(cache: string, name: string, deb: string): Promise<DebianLock> {
  const sha256 = await sha256File(deb);
  await mkdir(join(cache, 'debian', 'debs'), { recursive: true });
  await copyFile(deb, join(cache, 'debian', 'debs', `${sha256}.deb`));
  const entry = { package: name, version: '1.0', architecture: 'all', sha256, size: 1, filename: `pool/${name}.deb`, source: { package: name, version: '1.0' } };
  return { package: name, version: '1.0', architecture: 'all', closure: [entry] };
}

test('realiseDebian unpacks a checked package and reads its license; a hostile one leaves nothing behind', async () => {
  const work = await tempDir('kiln-realise-');
  const cache = join(work, 'cache');
  const { ctx } = testContext(cache);
  const good = await makeDeb(work, 'good', {
    'usr/bin/good': '#!/bin/sh\n',
    'usr/lib/good.so': { link: '/usr/lib/real.so' },
    'usr/share/doc/good/copyright': 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: someone\nLicense: Expat\n',
  });
  const realised = await realiseDebian(ctx, await lockFor(cache, 'good', good));
  assert.equal(await readFile(join(realised.root, 'usr/bin/good'), 'utf8'), '#!/bin/sh\n');
  assert.equal(realised.components.length, 1);
  assert.equal(realised.components[0]!.license, 'MIT');
  assert.deepEqual(realised.components[0]!.debian, { package: 'good', version: '1.0', architecture: 'all', source: { package: 'good', version: '1.0' } });
  // A second call is served from the cache.
  assert.equal((await realiseDebian(ctx, await lockFor(cache, 'good', good))).root, realised.root);

  const evil = await makeDeb(work, 'evil', { 'usr/share/evil/etc': { link: '../../../../etc' }, 'usr/share/evil/README': 'hi\n' });
  const roots = join(cache, 'debian', 'roots');
  const before = (await readdir(roots)).sort();
  await assert.rejects(realiseDebian(ctx, await lockFor(cache, 'evil', evil)), (error: unknown) => isKilnError(error, ErrorCodes.ARCHIVE_UNSAFE));
  assert.deepEqual((await readdir(roots)).sort(), before);
});
