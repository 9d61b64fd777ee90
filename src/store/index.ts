export { storeDir, listEntries, findEntry, readEntry, ensureEntry, entryName, workDir, workLockPath, withWorkDir, lockPath, type StoreEntry, type StoreMeta, type EntryRequest } from './store.js';
export { collectGarbage, registerRoot, rootsDir, LOG_MAX_AGE_DAYS, type GcOptions, type GcReport, type GcItem, type GcRoot, type LockReferences, type LockSources } from './gc.js';
export { hashTree, normaliseTree, walkTree } from './tree.js';
export { withStoreLock, lockState, type LockState } from './lock.js';
