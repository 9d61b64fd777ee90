/**
 * Every failure kiln reports to a user is a KilnError: a stable `code` (never reused for
 * another meaning, documented in the README's troubleshooting table), a one-line message,
 * an optional `hint` saying what to do, optional `details` (one problem per line, e.g. each
 * config error with its path) and the underlying `cause`.
 */
export const ErrorCodes = {
  APP_NOT_FOUND: 'KILN_APP_NOT_FOUND',
  DATA_FILE_INVALID: 'KILN_DATA_FILE_INVALID',
  RECIPE_INVALID: 'KILN_RECIPE_INVALID',
  APP_NOT_ELF: 'KILN_APP_NOT_ELF',
  APP_WRONG_ARCH: 'KILN_APP_WRONG_ARCH',
  LIBRARY_NOT_FOUND: 'KILN_LIBRARY_NOT_FOUND',
  /** The guest file tree asked of the cpio writer is inconsistent (bad path, duplicate, file under a symlink). */
  ROOTFS_INVALID: 'KILN_ROOTFS_INVALID',
  TOOL_MISSING: 'KILN_TOOL_MISSING',
  TOOL_FAILED: 'KILN_TOOL_FAILED',
  KERNEL_NOT_FOUND: 'KILN_KERNEL_NOT_FOUND',
  KERNEL_DOWNLOAD_FAILED: 'KILN_KERNEL_DOWNLOAD_FAILED',
  KERNEL_HASH_MISMATCH: 'KILN_KERNEL_HASH_MISMATCH',
  KERNEL_INVALID: 'KILN_KERNEL_INVALID',
  MODULE_NOT_FOUND: 'KILN_MODULE_NOT_FOUND',
  MODULE_DEPENDENCY_CYCLE: 'KILN_MODULE_DEPENDENCY_CYCLE',
  COMPONENT_SET_UNKNOWN: 'KILN_COMPONENT_SET_UNKNOWN',
  TARGET_UNKNOWN: 'KILN_TARGET_UNKNOWN',
  /** An architecture kiln has no kernel, shim or machine for (the hint lists the known ones). */
  ARCH_UNKNOWN: 'KILN_ARCH_UNKNOWN',
  /** The target's platform cannot run here (no dom0, no OVMF, …); the hint says what would. */
  TARGET_UNAVAILABLE: 'KILN_TARGET_UNAVAILABLE',
  /** The platform that runs the image's target is missing here (no Xen dom0 for xl, no KVM for Firecracker); details list why. */
  PLATFORM_UNAVAILABLE: 'KILN_PLATFORM_UNAVAILABLE',
  /** A runtime config asks for something the image's target cannot carry (a tap on a user-mode-only target, a volume without block devices). */
  TARGET_CANNOT_CARRY: 'KILN_TARGET_CANNOT_CARRY',
  CONFIG_INVALID: 'KILN_CONFIG_INVALID',
  USAGE: 'KILN_USAGE',
  IMAGE_NOT_FOUND: 'KILN_IMAGE_NOT_FOUND',
  IMAGE_INVALID: 'KILN_IMAGE_INVALID',
  OUTPUT_EXISTS: 'KILN_OUTPUT_EXISTS',
  MEMORY_TOO_SMALL: 'KILN_MEMORY_TOO_SMALL',
  PORT_IN_USE: 'KILN_PORT_IN_USE',
  ACCEL_UNAVAILABLE: 'KILN_ACCEL_UNAVAILABLE',
  VM_FAILED: 'KILN_VM_FAILED',
  VM_TIMEOUT: 'KILN_VM_TIMEOUT',
  SHIM_BUILD_FAILED: 'KILN_SHIM_BUILD_FAILED',
  COMPILER_MISSING: 'KILN_COMPILER_MISSING',
  /** A target tuple the toolchain does not know (the hint lists the known ones). */
  TUPLE_UNKNOWN: 'KILN_TUPLE_UNKNOWN',
  /** The host compiler and the kiln wrappers did not produce a working program (the verdict says why). */
  TOOLCHAIN_BROKEN: 'KILN_TOOLCHAIN_BROKEN',
  /**
   * A toolchain wrapper was given a host directory (-I/usr/include, -L/usr/lib, a host directory
   * in PKG_CONFIG_PATH, ...): printed by the generated wrapper scripts, which exit 1.
   */
  HOST_PATH_REFUSED: 'KILN_HOST_PATH_REFUSED',
  INTERRUPTED: 'KILN_INTERRUPTED',
  VOLUME_INVALID: 'KILN_VOLUME_INVALID',
  INSTANCE_NOT_FOUND: 'KILN_INSTANCE_NOT_FOUND',
  INSTANCE_EXISTS: 'KILN_INSTANCE_EXISTS',
  INSTANCE_STATE_CORRUPT: 'KILN_INSTANCE_STATE_CORRUPT',
  INSTANCE_RUNNING: 'KILN_INSTANCE_RUNNING',
  INSTANCE_BUSY: 'KILN_INSTANCE_BUSY',
  /** kiln.toml is missing or not a valid project manifest (each problem listed with its path). */
  MANIFEST_INVALID: 'KILN_MANIFEST_INVALID',
  /** No package source offers a package of that name (the hint suggests close names). */
  PACKAGE_UNKNOWN: 'KILN_PACKAGE_UNKNOWN',
  /** The dependency ranges cannot all be met; the details explain the chain of requirements. */
  NO_SOLUTION: 'KILN_NO_SOLUTION',
  /** Packages that depend on each other in a loop (the cycle is named). */
  DEPENDENCY_CYCLE: 'KILN_DEPENDENCY_CYCLE',
  /** kiln.lock no longer matches kiln.toml or the recipes (each drift listed); --frozen refuses to update it. */
  LOCK_DRIFT: 'KILN_LOCK_DRIFT',
  LOCK_INVALID: 'KILN_LOCK_INVALID',
  /** A package index (directory or HTTP) is malformed, or serves a recipe whose sha256 differs from its index. */
  INDEX_INVALID: 'KILN_INDEX_INVALID',
  /** An HTTP package index cannot be reached (network, DNS, refused); a locked recipe already in the cache is used instead, with this as a warning. */
  INDEX_UNREACHABLE: 'KILN_INDEX_UNREACHABLE',
  /** A source's bytes do not match the sha256 its recipe names (package builds, src/pkgbuild). */
  SOURCE_HASH_MISMATCH: 'KILN_SOURCE_HASH_MISMATCH',
  /** A source could not be obtained (download or npm pack failed, path missing, member absent). */
  SOURCE_FETCH_FAILED: 'KILN_SOURCE_FETCH_FAILED',
  /** An archive entry would land outside the build tree or is a device file; nothing was written. */
  ARCHIVE_UNSAFE: 'KILN_ARCHIVE_UNSAFE',
  /** A package build step failed; its log is kept and the store is untouched. */
  BUILD_FAILED: 'KILN_BUILD_FAILED',
  /** A store entry is locked by another live builder for too long. */
  STORE_BUSY: 'KILN_STORE_BUSY',
  /** apt knows no Debian package by that name (close names are suggested). */
  DEBIAN_PACKAGE_UNKNOWN: 'KILN_DEBIAN_PACKAGE_UNKNOWN',
  /** A Debian package's Depends cannot be met from apt's lists (missing package or version). */
  DEBIAN_UNRESOLVABLE: 'KILN_DEBIAN_UNRESOLVABLE',
  /** apt-get download failed, or a .deb's bytes differ from the sha256 in apt's index. */
  DEBIAN_DOWNLOAD_FAILED: 'KILN_DEBIAN_DOWNLOAD_FAILED',
  DEBIAN_HASH_MISMATCH: 'KILN_DEBIAN_HASH_MISMATCH',
  /** The program or data path asked of a Debian package is not in its unpacked closure. */
  DEBIAN_FILE_NOT_FOUND: 'KILN_DEBIAN_FILE_NOT_FOUND',
  /** Components whose licenses the license policy denies (each listed with its license). */
  LICENSE_DENIED: 'KILN_LICENSE_DENIED',
  /** License expressions that are not valid SPDX, or ids SPDX does not know (each listed). */
  LICENSE_UNKNOWN: 'KILN_LICENSE_UNKNOWN',
  /** Known vulnerabilities at or above the asked severity (kiln bake --audit; kiln audit exits 1 instead). */
  AUDIT_FINDINGS: 'KILN_AUDIT_FINDINGS',
  /** The advisory database directory or URL cannot be read at all (single bad files are reported, not fatal). */
  ADVISORY_DB_INVALID: 'KILN_ADVISORY_DB_INVALID',
  /** An image baked before kiln recorded components, or whose SBOM file does not match its manifest. */
  IMAGE_NO_INVENTORY: 'KILN_IMAGE_NO_INVENTORY',
  /** A registry reference that cannot be parsed (it must name the registry host: HOST[:PORT]/REPO[:TAG][@DIGEST]). */
  OCI_REFERENCE_INVALID: 'KILN_OCI_REFERENCE_INVALID',
  /** A registry that could not be reached, or kept answering 5xx/429, after bounded retries (the registry is named). */
  REGISTRY_UNREACHABLE: 'KILN_REGISTRY_UNREACHABLE',
  /** A registry refused the credentials (401/403), or asked for credentials kiln does not have. */
  REGISTRY_AUTH_FAILED: 'KILN_REGISTRY_AUTH_FAILED',
  /** A registry answered a request in a way the distribution spec does not allow (the status and its error body are shown). */
  REGISTRY_ERROR: 'KILN_REGISTRY_ERROR',
  /** A docker-credential-* helper named in the docker config failed or printed something that is not a credential. */
  CREDENTIAL_HELPER_FAILED: 'KILN_CREDENTIAL_HELPER_FAILED',
  /** The registry has no manifest by that tag or digest. */
  OCI_NOT_FOUND: 'KILN_OCI_NOT_FOUND',
  /** A blob or manifest whose bytes do not match its digest or size; nothing was stored. */
  OCI_DIGEST_MISMATCH: 'KILN_OCI_DIGEST_MISMATCH',
  /** A pulled manifest, index or config breaks the rules for a kiln image (media types, sizes, file names); each problem listed. */
  OCI_MANIFEST_INVALID: 'KILN_OCI_MANIFEST_INVALID',
  /** The reference names a container image (or another artifact), not a kiln image. */
  OCI_NOT_KILN_IMAGE: 'KILN_OCI_NOT_KILN_IMAGE',
  /** An image index has no image for the asked platform (the hint lists the ones it has). */
  OCI_PLATFORM_MISSING: 'KILN_OCI_PLATFORM_MISSING',
  /** A key file that is not a cosign/sigstore key, or a wrong password. */
  KEY_INVALID: 'KILN_KEY_INVALID',
  /** No signature by an accepted key was found for the image's digest (unsigned, or signed by another key). */
  SIGNATURE_MISSING: 'KILN_SIGNATURE_MISSING',
  /** A signature that does not verify, or whose payload names another image or digest. */
  SIGNATURE_INVALID: 'KILN_SIGNATURE_INVALID',
  /** A signing policy file that cannot be read or breaks its schema. */
  POLICY_INVALID: 'KILN_POLICY_INVALID',
  /** An unexpected failure inside kiln itself (a bug): the message carries the stack. */
  INTERNAL: 'KILN_INTERNAL',

  // Warnings: reported as `warning` events (the work goes on), never thrown. Same table, so a
  // code is never reused between an error and a warning.
  /** A writable volume made from a host directory is a copy: what the app writes there is discarded at the end. */
  VOLUME_IS_A_COPY: 'KILN_VOLUME_IS_A_COPY',
  /** --modules are for another kernel release than --kernel: the kernel will refuse to load them. */
  MODULES_RELEASE_MISMATCH: 'KILN_MODULES_RELEASE_MISMATCH',
  /** The app was built by the kiln wrappers for a tuple the image's architecture does not run. */
  APP_OTHER_TUPLE: 'KILN_APP_OTHER_TUPLE',
  /** Some tuples of the toolchain could not be installed (their reasons listed); the others were. */
  TOOLCHAIN_PARTIAL: 'KILN_TOOLCHAIN_PARTIAL',
  /** One advisory file could not be read; the others were used. */
  ADVISORY_INVALID: 'KILN_ADVISORY_INVALID',
  /** Advisories for ecosystems kiln does not audit were skipped (counted by ecosystem). */
  ADVISORY_ECOSYSTEM_UNKNOWN: 'KILN_ADVISORY_ECOSYSTEM_UNKNOWN',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface KilnErrorOptions {
  hint?: string;
  details?: string[];
  cause?: unknown;
}

export class KilnError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: string[];

  constructor(code: ErrorCode, message: string, options: KilnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KilnError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

export function isKilnError(value: unknown, code?: ErrorCode): value is KilnError {
  return value instanceof KilnError && (code === undefined || value.code === code);
}
