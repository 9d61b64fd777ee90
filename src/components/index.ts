/** Kernel components: obtain a kernel, index its modules, resolve component sets to modules. */
export { obtainKernel, ensureKernelEntry } from './kernel.js';
export { resolveKernelPackage, parseAptStanzas, kernelDependency, type ResolvedKernelPackage } from './apt.js';
export { parseBzImage, isBzImage, detectCompression, type BzImageInfo, type KernelCompression } from './bzimage.js';
export { parseKernelConfig, configState, type KernelConfig } from './kconfig.js';
export { kernelEntryDir, listKernelEntries, newestKernelEntry, readKernelEntry } from './cache.js';
export { compareDebianVersions } from './debian-version.js';
export { normaliseModuleName, parseModinfo, readModinfo, type ModinfoFields } from './modinfo.js';
export {
  buildModuleIndex,
  loadModuleIndex,
  getModule,
  serializeModuleIndex,
  parseModuleIndex,
  MODULE_INDEX_FILE,
  type ModuleIndex,
  type ModuleInfo,
} from './modules.js';
export { COMPONENT_SETS, isComponentSetName, resolveModuleClosure, type ComponentSet, type ComponentSetName, type ModuleToLoad } from './sets.js';
export {
  type DebianKernelPin,
  type KernelComponents,
  type KernelEntryMeta,
  type KernelSource,
  type ObtainKernelOptions,
} from './types.js';
export { extractVmlinux } from './vmlinux.js';
