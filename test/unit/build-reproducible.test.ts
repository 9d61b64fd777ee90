import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildRecipe } from '../../src/pkgbuild/build.js';
import { BUILD_ROOT } from '../../src/pkgbuild/sandbox.js';
import { loadRecipe } from '../../src/packages/recipe.js';
import { hashTree } from '../../src/store/tree.js';
import { createContext } from '../../src/context.js';
import { MemoryReporter } from '../../src/events.js';
import { tempDir } from '../helpers.js';

/**
 * The same recipe built under two different cache directories gives byte-identical store
 * trees: the steps see their work tree at BUILD_ROOT, so __FILE__ (compiled from an absolute
 * path) and the debug info's directories name that fixed path, never the cache's.
 */

const MAIN_C = `#include <stdio.h>
int main(void) { printf("built from %s\\n", __FILE__); return 0; }
`;

// Compiled from its absolute path ($PWD/main.c) with -g: both the string and DW_AT_comp_dir hold paths.
const RECIPE = `[package]
name = "where"
version = "1.0.0"
license = "MIT"

[[sources]]
path = "main.c"

[build]
steps = [
  ["mkdir", "-p", "$KILN_DESTDIR/usr/bin", "$KILN_DESTDIR/usr/share"],
  ["sh", "-c", "$KILN_TUPLE-gcc -g -O1 -o \\"$KILN_DESTDIR/usr/bin/where\\" \\"$PWD/main.c\\""],
  ["sh", "-c", "echo \\"$KILN_DESTDIR $KILN_SYSROOT $PWD\\" > \\"$KILN_DESTDIR/usr/share/paths\\""],
]
`;

async function buildIn(projectDir: string, cache: string) {
  const ctx = createContext({ paths: { cache, state: join(cache, 'state') }, reporter: new MemoryReporter(), env: process.env });
  return buildRecipe(ctx, { loaded: await loadRecipe(join(projectDir, 'recipe.toml')), kind: 'package', deps: [] });
}

test('one recipe built under two cache locations gives identical trees (fixed build path)', async () => {
  const dir = await tempDir('kiln-repro-');
  await writeFile(join(dir, 'main.c'), MAIN_C);
  await writeFile(join(dir, 'recipe.toml'), RECIPE);
  const first = await buildIn(dir, join(dir, 'cache-one'));
  const second = await buildIn(dir, join(dir, 'a', 'much', 'longer', 'cache-two'));
  assert.equal(first.built, true);
  assert.equal(second.built, true);
  assert.equal(first.entry.key, second.entry.key, 'the key does not depend on the cache location');

  const paths = (await readFile(join(first.entry.tree, 'usr', 'share', 'paths'), 'utf8')).trim();
  assert.equal(paths, `${BUILD_ROOT}/destdir ${BUILD_ROOT}/toolchain-cache/sysroot/x86_64-kiln-linux-musl ${BUILD_ROOT}/src`);
  const binary = await readFile(join(first.entry.tree, 'usr', 'bin', 'where'));
  assert.ok(binary.includes(`${BUILD_ROOT}/src/main.c`), 'the binary names the fixed source path');
  assert.ok(!binary.includes(dir), 'the binary names no host path of the build');

  const [a, b] = [await hashTree(first.entry.tree), await hashTree(second.entry.tree)];
  assert.equal(a.sha256, b.sha256, 'byte-identical trees');
  assert.equal(a.sha256, first.entry.meta.treeSha256);
  assert.equal(a.files, 2);
});
