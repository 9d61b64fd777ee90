export { TUPLES, DEFAULT_TUPLE, getTuple, tuplesForArch, type TupleInfo, type Libc } from './tuples.js';
export { detectCompiler, type HostCompiler, type CompilerKind } from './compiler.js';
export { installToolchain, type InstallOptions, type InstalledToolchain, type InstalledTuple } from './install.js';
export { sysrootPath, ensureSysroot } from './sysroot.js';
export { readProvenance, provenanceFromElf, WRAPPER_VERSION, type Provenance } from './provenance.js';
export { shellEnvLines } from './env.js';
