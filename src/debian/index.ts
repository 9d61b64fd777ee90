export type { DebianLock, DebianLockEntry, DebianSpec, DebianImageSpec } from './types.js';
export { resolveDebianClosure } from './resolve.js';
export { realiseDebian } from './realise.js';
export { debianBakeRequest, type DebianBakeParts } from './bake.js';
export { debianRecipeBakeRequest } from './recipe.js';
export { INSTALL_ONLY_PACKAGES } from './closure.js';
export { licenseFromCopyright, debianExpressionToSpdx } from './license.js';
