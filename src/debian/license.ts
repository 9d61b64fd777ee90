/**
 * Debian copyright files to SPDX. There is one mapping, in src/supply/debian-license.ts, so
 * a Debian package flow and an image inventory give a package the same license; this module
 * only keeps src/debian's import path.
 */
export { debianExpressionToSpdx, debianLicenseToSpdx, licenseFromCopyright, packageLicense } from '../supply/debian-license.js';
