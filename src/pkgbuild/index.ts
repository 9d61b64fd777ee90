export { buildRecipe, buildKey, keyFor, toolchainIdentity, recipeTuple, SOURCE_DATE_EPOCH, type BuildRequest, type BuildResult, type BuildKeyInputs } from './build.js';
export { fetchSource, sourcesCacheDir, type FetchedSource } from './fetch.js';
export { checkArchive, extractArchive, sniffArchive, entryProblem, type ArchiveKind } from './archive.js';
export { runSteps, expandArgument, requireUnshare, BASE_PATH, type StepRun } from './sandbox.js';
export { buildProject, buildOrder, runtimeClosure, projectRecipe, lockReferences, lockSources, isProjectDir, type ProjectBuild, type BuiltPackage, type BuildProjectOptions } from './project.js';
export { projectBakeRequest, bakeProject, type ProjectBakeRequest, type ProjectBakeResult } from './bake-project.js';
