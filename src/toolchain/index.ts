export { TUPLES, DEFAULT_TUPLE, getTuple, tuplesForArch, archOfTuple, type TupleInfo, type Libc, type LibcSource, type CrossCompiler } from './tuples.js';
export { detectCompiler, detectCrossGcc, type HostCompiler, type CompilerKind } from './compiler.js';
export { installToolchain, type InstallOptions, type InstalledToolchain, type InstalledTuple } from './install.js';
export { staleToolchainCaches, TOOLCHAIN_IDLE_DAYS } from './cache-gc.js';
export { sysrootPath, ensureSysroot } from './sysroot.js';
export { readProvenance, provenanceFromElf, WRAPPER_VERSION, type Provenance } from './provenance.js';
export { shellEnvLines } from './env.js';
