/** The package model: recipes, kiln.toml, package sources, the resolver and kiln.lock. */
export { loadRecipe, parseRecipe, recipeJsonSchema, defaultApp, RecipeSchema, type Recipe, type RecipeSource, type LoadedRecipe } from './recipe.js';
export { loadProject, parseManifest, projectJsonSchema, ProjectManifestSchema, PROJECT_FILE, type ProjectManifest, type LoadedProject, type IndexEntry } from './manifest.js';
export { lockProject, readLock, recipeForLocked, lockDrift, lockPaths, LOCK_FILE, type Lockfile, type LockedPackage, type LockedSource, type LockOptions } from './lock.js';
export { initProject, addDependency, parsePackageSpec, setTomlKey, type InitResult, type AddResult } from './project.js';
export { resolveDependencies, findCycle, Solver, NoSolutionError, explainFailure, type Universe, type ResolveRoot, type ResolvedPackage, type Resolution, type ResolveOptions } from './resolve/index.js';
export {
  projectSources,
  SourceSet,
  DirectorySource,
  CatalogueSource,
  HttpSource,
  catalogueDir,
  buildIndex,
  parseIndexFile,
  INDEX_FILE,
  type PackageSource,
  type DependencyInfo,
  type IndexFile,
} from './sources/index.js';
