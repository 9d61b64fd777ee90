import { KilnError, ErrorCodes } from '../errors.js';

/**
 * The target tuples kiln's wrappers build for. A tuple names what a binary needs at run time
 * (CPU, kernel ABI, C library), which is what bake must match; the vendor field "kiln" keeps
 * the names apart from the host's own x86_64-linux-gnu tools, so configure scripts see a
 * cross compiler and never run host tools by accident.
 */
export type Libc = 'musl' | 'glibc';

export interface TupleInfo {
  name: string;
  arch: 'x86_64';
  libc: Libc;
  /** Link statically unless asked otherwise (-shared, -static-pie). */
  staticByDefault: boolean;
  /** Whether a C++ runtime exists for this tuple on a Debian host. */
  cxx: boolean;
  /** The host's GNU triplet whose binutils and compiler runtime (libgcc) serve this tuple. */
  hostTriplet: string;
  /** Where the C library's headers and start files live on the host (musl-dev); glibc uses the compiler's defaults. */
  libcInclude?: string;
  libcLib?: string;
  /** Debian packages that give this tuple its C library. */
  libcPackages: string[];
  description: string;
}

export const TUPLES: readonly TupleInfo[] = [
  {
    name: 'x86_64-kiln-linux-musl',
    arch: 'x86_64',
    libc: 'musl',
    staticByDefault: true,
    cxx: false,
    hostTriplet: 'x86_64-linux-gnu',
    libcInclude: '/usr/include/x86_64-linux-musl',
    libcLib: '/usr/lib/x86_64-linux-musl',
    libcPackages: ['musl-tools', 'musl-dev'],
    description: 'static musl (the default): C programs with nothing to carry into the image',
  },
  {
    name: 'x86_64-kiln-linux-gnu',
    arch: 'x86_64',
    libc: 'glibc',
    staticByDefault: false,
    cxx: true,
    hostTriplet: 'x86_64-linux-gnu',
    libcPackages: ['libc6-dev', 'g++'],
    description: "glibc, dynamic: C++ and code that needs glibc; bake carries the host's libraries into the image",
  },
];

export const DEFAULT_TUPLE = 'x86_64-kiln-linux-musl';

export function getTuple(name: string): TupleInfo {
  const tuple = TUPLES.find((t) => t.name === name);
  if (!tuple) {
    throw new KilnError(ErrorCodes.TUPLE_UNKNOWN, `unknown target tuple "${name}"`, {
      hint: `known tuples: ${TUPLES.map((t) => t.name).join(', ')}`,
      details: TUPLES.map((t) => `${t.name}: ${t.description}`),
    });
  }
  return tuple;
}

/** The tuples whose binaries a target of this architecture can run. */
export function tuplesForArch(arch: string): string[] {
  return TUPLES.filter((t) => t.arch === arch).map((t) => t.name);
}
