import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { edgesWithin, importCircles, importGraph, layerGraph } from '../import-graph.js';

/**
 * No import circles in src/: neither between files nor between layers (the top-level folders:
 * launch imports targets, never the other way round). Type-only imports count too.
 */
const src = fileURLToPath(new URL('../../../src/', import.meta.url));
const graph = importGraph(src);

test('the import graph is read (so an empty answer below means something)', () => {
  assert.ok(graph.size > 100, `${graph.size} files`);
  assert.ok(graph.get('launch/launch.ts')!.includes('launch/plan.ts'));
  assert.deepEqual(importCircles(new Map([['a.ts', ['b.ts']], ['b.ts', ['a.ts']], ['c.ts', ['a.ts']]])), [['a.ts', 'b.ts']]);
});

test('no file imports itself through others', () => {
  assert.deepEqual(importCircles(graph), []);
});

/**
 * Layer circles that came with work landed while this check was written, each with the imports
 * that close it. They may only go away: a new circle, or a known one that grows, fails here.
 * - components/hypervisor.ts obtains Xen through debian/, whose bake parts import bake/, which
 *   imports components/ (fix: obtain the hypervisor in bake/ or debian/, the type in targets/);
 * - export/kubevirt.ts reads oci/reference.ts while oci/containerdisk.ts converts with
 *   export/disk.ts (fix: the disk conversion below both).
 */
const KNOWN_LAYER_CIRCLES: readonly (readonly string[])[] = [
  ['bake', 'components', 'debian', 'init', 'targets', 'toolchain'],
  ['export', 'oci'],
];

test('no layer (top-level folder of src) imports itself through others, beyond the known ones', () => {
  const circles = importCircles(layerGraph(graph));
  const known = (layers: readonly string[]) => KNOWN_LAYER_CIRCLES.some((allowed) => layers.every((layer) => allowed.includes(layer)));
  assert.deepEqual(
    circles.filter((layers) => !known(layers)).map((layers) => ({ layers, imports: edgesWithin(graph, layers) })),
    [],
  );
});
