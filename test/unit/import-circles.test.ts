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

test('no layer (top-level folder of src) imports itself through others', () => {
  const circles = importCircles(layerGraph(graph));
  assert.deepEqual(
    circles.map((layers) => ({ layers, imports: edgesWithin(graph, layers) })),
    [],
  );
});
