import type { Arch } from '../arch.js';
import { KilnError, ErrorCodes } from '../errors.js';

/**
 * The target tuples kiln's wrappers build for. A tuple names what a binary needs at run time
 * (CPU, kernel ABI, C library), which is what bake must match; the vendor field "kiln" keeps
 * the names apart from the host's own x86_64-linux-gnu tools, so configure scripts see a
 * cross compiler and never run host tools by accident.
 */
export type Libc = 'musl' | 'glibc';


/**
 * Where a tuple's C library comes from.
 * - host: installed on the host (musl-dev, libc6-dev): libcInclude/libcLib name its directories;
 * - debian-download: a foreign-architecture Debian package, downloaded (never installed) and
 *   unpacked into kiln's cache (libc.ts), hash-checked against apt's index. libcInclude/libcLib
 *   are then paths inside that package, relative to its root, made absolute at install time.
 */
export type LibcSource = { kind: 'host' } | { kind: 'debian-download'; package: string; dpkgArch: string };

/**
 * A compiler other than the host's own: Debian's cross gcc for another architecture, found as
 * <hostTriplet>-gcc with binutils <hostTriplet>-ar etc.
 */
export interface CrossCompiler {
  /** The Debian packages that install it, named when it is missing. */
  packages: string[];
}

export interface TupleInfo {
  name: string;
  arch: Arch;
  libc: Libc;
  /** Link statically unless asked otherwise (-shared, -static-pie). */
  staticByDefault: boolean;
  /**
   * Try a static link first and link dynamically when that fails (see gnuLink in wrappers.ts).
   * Libraries still build both ways (libtool, CMake find shared ones too), so the fallback has
   * something to link against.
   */
  staticFirst?: boolean;
  /** Whether a C++ runtime exists for this tuple on a Debian host. */
  cxx: boolean;
  /** The host's GNU triplet whose binutils and compiler runtime (libgcc) serve this tuple. */
  hostTriplet: string;
  /** Where the C library's headers and start files live on the host (musl-dev); glibc uses the compiler's defaults. */
  libcInclude?: string;
  libcLib?: string;
  /** Debian packages that give this tuple its C library. */
  libcPackages: string[];
  /** Default: the host's (see LibcSource). */
  libcSource?: LibcSource;
  /** Set for tuples built with a cross compiler instead of the host's gcc. */
  cross?: CrossCompiler;
  /** musl's dynamic loader for this architecture (PT_INTERP of -shared/-pie links). */
  dynamicLinker?: string;
  /** Linker flags the architecture's own gcc passes by default and kiln's link spec keeps. */
  linkFlags?: string[];
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
    dynamicLinker: '/lib/ld-musl-x86_64.so.1',
    description: 'static musl (the default): C programs with nothing to carry into the image',
  },
  {
    name: 'x86_64-kiln-linux-gnu',
    arch: 'x86_64',
    libc: 'glibc',
    staticByDefault: false,
    staticFirst: true,
    cxx: true,
    hostTriplet: 'x86_64-linux-gnu',
    libcPackages: ['libc6-dev', 'g++'],
    description: "glibc: C++ and code that needs glibc; static where it links, otherwise dynamic with the host's libraries carried into the image by bake",
  },
  {
    // Debian's cross gcc targets glibc; musl for arm64 comes from Debian's musl-dev:arm64,
    // downloaded through apt (multiarch lists: `dpkg --add-architecture arm64`), not installed.
    name: 'aarch64-kiln-linux-musl',
    arch: 'aarch64',
    libc: 'musl',
    staticByDefault: true,
    cxx: false,
    hostTriplet: 'aarch64-linux-gnu',
    libcInclude: 'usr/include/aarch64-linux-musl',
    libcLib: 'usr/lib/aarch64-linux-musl',
    libcPackages: ['musl-dev:arm64'],
    libcSource: { kind: 'debian-download', package: 'musl-dev', dpkgArch: 'arm64' },
    cross: { packages: ['gcc-aarch64-linux-gnu', 'binutils-aarch64-linux-gnu'] },
    dynamicLinker: '/lib/ld-musl-aarch64.so.1',
    // Debian's aarch64 gcc links with the Cortex-A53 erratum 843419 workaround on by default.
    linkFlags: ['--fix-cortex-a53-843419'],
    description: 'static musl for 64-bit Arm, over Debian\'s cross gcc: boots with the arm64 cloud kernel on QEMU virt',
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

/** The architecture of a tuple name, e.g. for provenance notes (undefined for foreign names). */
export function archOfTuple(name: string): Arch | undefined {
  return TUPLES.find((t) => t.name === name)?.arch;
}

/** The tuples whose binaries a target of this architecture can run. */
export function tuplesForArch(arch: string): string[] {
  return TUPLES.filter((t) => t.arch === arch).map((t) => t.name);
}
