// Debian version ordering lives with the other ecosystems' orderings in src/supply/versions.ts.
export { compareDebianVersions } from '../supply/versions.js';
