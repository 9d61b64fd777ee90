import type { LoadedRecipe } from '../recipe.js';

/** What the resolver needs to know about one version: its dependency ranges. */
export interface DependencyInfo {
  dependencies: Record<string, string>;
  buildDependencies: Record<string, string>;
}

/**
 * Somewhere packages come from: the built-in catalogue, a local index directory, or an index
 * served over HTTP. `id` is what kiln.lock records as a package's source.
 */
export interface PackageSource {
  readonly id: string;
  /** Every version this source offers of `name` (unsorted; empty when it has none). */
  versions(name: string): Promise<string[]>;
  recipe(name: string, version: string): Promise<LoadedRecipe>;
  /** Dependency ranges of one version, without loading the recipe when the index already says. */
  dependencies(name: string, version: string): Promise<DependencyInfo>;
  /** Every package name offered (for "did you mean" suggestions). */
  names(): Promise<string[]>;
}

export function dependencyInfo(loaded: LoadedRecipe): DependencyInfo {
  return { dependencies: loaded.recipe.dependencies, buildDependencies: loaded.recipe['build-dependencies'] };
}
