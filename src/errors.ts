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
  /** The target's platform cannot run here (no dom0, no OVMF, …); the hint says what would. */
  TARGET_UNAVAILABLE: 'KILN_TARGET_UNAVAILABLE',
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
  INTERRUPTED: 'KILN_INTERRUPTED',
  VOLUME_INVALID: 'KILN_VOLUME_INVALID',
  INSTANCE_NOT_FOUND: 'KILN_INSTANCE_NOT_FOUND',
  INSTANCE_EXISTS: 'KILN_INSTANCE_EXISTS',
  INSTANCE_STATE_CORRUPT: 'KILN_INSTANCE_STATE_CORRUPT',
  INSTANCE_RUNNING: 'KILN_INSTANCE_RUNNING',
  INSTANCE_BUSY: 'KILN_INSTANCE_BUSY',
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
