import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The import graph of a source tree: every relative `import`/`export … from` (type-only ones
 * included: a circle of types is a circle of concepts) between .ts files, and its circles as
 * strongly connected components (Tarjan). Written here rather than taken from a package: it is
 * forty lines and needs nothing but the files.
 */
export function importGraph(root: string): Map<string, string[]> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
    }
  };
  walk(root);
  const graph = new Map<string, string[]>();
  const pattern = /(?:^|\n)\s*(?:import|export)\b[^;'"]*?(?:from\s*)?['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = new Set<string>();
    for (const match of text.matchAll(pattern)) targets.add(relative(root, resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts'))));
    graph.set(relative(root, file), [...targets].sort());
  }
  return graph;
}

/** Every circle: the components of more than one file (or a file importing itself), each sorted. */
export function importCircles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) circles.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return circles.sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/** The same graph one level up: each top-level folder of the tree is one node (a layer). */
export function layerGraph(graph: Map<string, string[]>): Map<string, string[]> {
  const layer = (file: string) => file.split('/')[0]!;
  const layers = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = layer(file);
    const edges = layers.get(from) ?? new Set<string>();
    for (const target of targets) if (layer(target) !== from) edges.add(layer(target));
    layers.set(from, edges);
  }
  return new Map([...layers].map(([name, edges]) => [name, [...edges].sort()]));
}

/** The imports that make up one circle of layers, for an error message that says where to cut. */
export function edgesWithin(graph: Map<string, string[]>, layers: readonly string[]): string[] {
  const inside = new Set(layers);
  const layer = (file: string) => file.split('/')[0]!;
  return [...graph].flatMap(([file, targets]) =>
    targets.filter((target) => layer(target) !== layer(file) && inside.has(layer(file)) && inside.has(layer(target))).map((target) => `${file} -> ${target}`),
  );
}
