import { chmod, mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes } from '../errors.js';
import { run } from '../util/exec.js';
import { canonicalJson, exists, publishDirectory, sha256 } from '../util/fs.js';
import { KILN_VERSION } from '../version.js';
import { cmakeToolchainFile, mesonCrossFile } from './buildfiles.js';
import { detectCompiler, detectCrossGcc, findOnPath, gccRuntimeDir, type CompilerKind, type HostCompiler } from './compiler.js';
import { multiarchHint, obtainForeignLibc } from './libc.js';
import { provenanceAssembly, WRAPPER_VERSION, type Provenance } from './provenance.js';
import { specsFor } from './specs.js';
import { ensureSysroot } from './sysroot.js';
import { BINUTILS, generateWrappers, shQuote } from './wrappers.js';
import { DEFAULT_TUPLE, getTuple, TUPLES, type TupleInfo } from './tuples.js';

/**
 * Installing a toolchain = detecting the host compiler and tools, then writing, per tuple:
 * <prefix>/bin/<tuple>-<tool> wrappers, and under <prefix>/lib/kiln-toolchain/<tuple>/ the gcc
 * specs, the provenance note object, a CMake toolchain file and a Meson cross file.
 * Without a prefix the toolchain goes to a content-addressed directory in kiln's cache, keyed
 * by everything that shapes the generated files, so a changed host compiler gets new wrappers
 * and `kiln toolchain env` never hands out stale ones.
 */

export interface InstallOptions {
  /** Install under this prefix (bin/ and lib/kiln-toolchain/); default: kiln's cache. */
  prefix?: string;
  /** The compiler behind cc/gcc/c++/g++; default: gcc if installed, else clang. */
  cc?: CompilerKind;
  /** Default: every known tuple. */
  tuples?: string[];
}

export interface InstalledTuple {
  tuple: string;
  sysroot: string;
  specs: string;
  noteObject: string;
  cmake: string;
  meson: string;
  /** Absolute paths of the wrappers. */
  wrappers: string[];
  provenance: Provenance;
  /** Where the C library came from: "host", or the downloaded Debian package with its version and .deb hash. */
  libc: string;
}

export interface InstalledToolchain {
  prefix: string;
  binDir: string;
  /** An autoconf site file: `kiln toolchain env` exports it as CONFIG_SITE (see configSite()). */
  configSite: string;
  compiler: HostCompiler;
  clang?: HostCompiler;
  tuples: InstalledTuple[];
  /** Why some tuple or wrapper was left out (e.g. musl-dev not installed). */
  skipped: string[];
}

/** What one tuple's wrappers sit on: the host's compiler and tools, or a cross gcc and its binutils. */
interface TupleFacts {
  /** With the C library's directories made absolute (a downloaded libc lives in kiln's cache). */
  tuple: TupleInfo;
  compiler: HostCompiler;
  clang?: HostCompiler;
  gccRuntimeDir?: string;
  tools: Record<string, string>;
  libc: string;
}

interface HostFacts {
  compiler: HostCompiler;
  clang?: HostCompiler;
  tuples: TupleFacts[];
  skipped: string[];
}

/** Inside an install; `kiln gc` reads its modification time as the install's last use. */
export const TOOLCHAIN_MANIFEST = 'lib/kiln-toolchain/toolchain.json';
const MANIFEST = TOOLCHAIN_MANIFEST;


async function gatherHostFacts(ctx: Context, options: InstallOptions): Promise<HostFacts> {
  const requested = (options.tuples ?? TUPLES.map((t) => t.name)).map(getTuple);
  // Only cross tuples asked for (e.g. the aarch64 init shim's build): the host compiler is not needed.
  if (requested.length > 0 && requested.every((t) => t.cross)) return crossOnlyFacts(ctx, requested);
  const compiler = await detectCompiler(ctx.env, options.cc);
  const clang = compiler.kind === 'clang' ? compiler : await detectCompiler(ctx.env, 'clang').catch(() => undefined);
  const runtime = await gccRuntimeDir(ctx.env);
  const skipped: string[] = [];
  const native: TupleInfo[] = [];
  const tuples: TupleFacts[] = [];
  const cross: TupleInfo[] = [];
  for (const tuple of requested) {
    if (tuple.cross) {
      cross.push(tuple);
      continue;
    }
    if (tuple.libcLib && !(await exists(join(tuple.libcLib, 'crt1.o')))) {
      skipped.push(`${tuple.name}: its C library is not installed (apt-get install ${tuple.libcPackages.join(' ')})`);
      continue;
    }
    native.push(tuple);
  }
  if ((compiler.kind === 'clang' || clang) && !runtime && native.some((t) => t.libc === 'musl')) {
    // clang over musl links with gcc's crtbegin/libgcc: without gcc there is no runtime to link.
    if (compiler.kind === 'clang') {
      throw new KilnError(ErrorCodes.COMPILER_MISSING, "clang over musl links with gcc's runtime (crtbeginT.o, libgcc.a), and gcc is not installed", {
        hint: 'apt-get install gcc',
      });
    }
  }
  if (native.length > 0) {
    const tools: Record<string, string> = {};
    for (const name of BINUTILS) {
      const found = (await findOnPath(`${compiler.machine}-${name}`, ctx.env)) ?? (await findOnPath(name, ctx.env));
      if (found) tools[name] = found;
      else skipped.push(`${name}: not found on PATH (apt-get install binutils)`);
    }
    await addPkgConfig(ctx, tools, skipped);
    for (const tuple of native) tuples.push({ tuple, compiler, ...(clang ? { clang } : {}), ...(runtime ? { gccRuntimeDir: runtime } : {}), tools, libc: 'host' });
  }
  for (const tuple of cross) {
    const found = await crossTupleFacts(ctx, tuple);
    if (typeof found === 'string') skipped.push(found);
    else tuples.push(found);
  }
  if (tuples.length === 0) {
    throw missingTupleError(requested[0] ?? getTuple(DEFAULT_TUPLE), skipped);
  }
  return { compiler, ...(clang ? { clang } : {}), tuples, skipped };
}

async function crossOnlyFacts(ctx: Context, requested: TupleInfo[]): Promise<HostFacts> {
  const skipped: string[] = [];
  const tuples: TupleFacts[] = [];
  for (const tuple of requested) {
    const found = await crossTupleFacts(ctx, tuple);
    if (typeof found === 'string') skipped.push(found);
    else tuples.push(found);
  }
  const first = tuples[0];
  if (!first) throw missingTupleError(requested[0]!, skipped);
  return { compiler: first.compiler, tuples, skipped };
}

function missingTupleError(tuple: TupleInfo, skipped: string[]): KilnError {
  return new KilnError(ErrorCodes.COMPILER_MISSING, `the ${tuple.cross ? 'cross compiler or C library' : 'C library'} for ${tuple.name} is not installed`, {
    hint: `apt-get install ${[...(tuple.cross?.packages ?? []), ...(tuple.libcSource?.kind === 'debian-download' ? [] : tuple.libcPackages)].join(' ')}`,
    details: skipped,
  });
}

async function addPkgConfig(ctx: Context, tools: Record<string, string>, skipped: string[]): Promise<void> {
  const pkgConfig = (await findOnPath('pkgconf', ctx.env)) ?? (await findOnPath('pkg-config', ctx.env));
  if (pkgConfig) tools['pkg-config'] = pkgConfig;
  else if (!skipped.some((line) => line.startsWith('pkg-config:'))) skipped.push('pkg-config: not installed (apt-get install pkgconf)');
}

/**
 * A cross tuple: Debian's <triplet>-gcc and <triplet>-binutils (never the host's, which would
 * make x86_64 objects), and the C library downloaded for its architecture. Returns why the
 * tuple is left out when a piece is missing; the other tuples still install.
 */
async function crossTupleFacts(ctx: Context, tuple: TupleInfo): Promise<TupleFacts | string> {
  const packages = tuple.cross?.packages ?? [];
  const compiler = await detectCrossGcc(ctx.env, tuple.hostTriplet);
  if (!compiler) return `${tuple.name}: its cross compiler ${tuple.hostTriplet}-gcc is not installed (apt-get install ${packages.join(' ')})`;
  const tools: Record<string, string> = {};
  for (const name of BINUTILS) {
    const found = await findOnPath(`${tuple.hostTriplet}-${name}`, ctx.env);
    if (!found) return `${tuple.name}: ${tuple.hostTriplet}-${name} is not installed (apt-get install ${packages.join(' ')})`;
    tools[name] = found;
  }
  const skippedNow: string[] = [];
  await addPkgConfig(ctx, tools, skippedNow);
  let resolved = tuple;
  let libcLabel = 'host';
  if (tuple.libcSource?.kind === 'debian-download') {
    try {
      const libc = await obtainForeignLibc(ctx, tuple.libcSource);
      resolved = { ...tuple, libcInclude: join(libc.root, tuple.libcInclude!), libcLib: join(libc.root, tuple.libcLib!) };
      libcLabel = `${libc.package}:${libc.architecture} ${libc.version} (sha256 ${libc.sha256})`;
    } catch (error) {
      const e = error as KilnError;
      return `${tuple.name}: its C library ${tuple.libcPackages.join(' ')} is not available (${e.message}); ${e.hint ?? multiarchHint(tuple.libcSource.dpkgArch)}`;
    }
  }
  const runtime = await gccRuntimeDir(ctx.env, compiler.cc);
  return { tuple: resolved, compiler, ...(runtime ? { gccRuntimeDir: runtime } : {}), tools, libc: libcLabel };
}

function compilerLabel(compiler: HostCompiler): string {
  return `${compiler.kind} ${compiler.version} (${compiler.identity})`;
}

/** Specs files split on whitespace: a path with a space in it cannot be written into one. */
function assertSpecsSafe(path: string): void {
  if (/\s/.test(path)) {
    throw new KilnError(ErrorCodes.USAGE, `the path ${JSON.stringify(path)} contains whitespace, which gcc specs files cannot hold`, {
      hint: 'choose a --prefix (or KILN_CACHE_DIR) without spaces',
    });
  }
}

/** Paths written into files name `prefix`; the files themselves go under `outDir` (see publishDirectory). */
async function writeTupleFiles(ctx: Context, prefix: string, outDir: string, facts: TupleFacts): Promise<InstalledTuple> {
  const { tuple } = facts;
  const binDir = join(prefix, 'bin');
  const dataDir = join(prefix, 'lib', 'kiln-toolchain', tuple.name);
  const out = (path: string): string => join(outDir, relative(prefix, path));
  await mkdir(out(binDir), { recursive: true });
  await mkdir(out(dataDir), { recursive: true });
  const sysroot = await ensureSysroot(ctx, tuple.name);
  const specs = join(dataDir, 'gcc.specs');
  const noteObject = join(dataDir, 'provenance.o');
  for (const path of [sysroot, specs, noteObject, tuple.libcInclude ?? '', tuple.libcLib ?? '']) assertSpecsSafe(path);

  const provenance: Provenance = { tuple: tuple.name, wrapper: WRAPPER_VERSION, compiler: compilerLabel(facts.compiler) };
  const noteSource = join(dataDir, 'provenance.s');
  await writeFile(out(noteSource), provenanceAssembly(provenance));
  await run(facts.compiler.cc, ['-c', '-x', 'assembler', out(noteSource), '-o', out(noteObject)], { env: { ...ctx.env, LC_ALL: 'C' } });
  await writeFile(out(specs), specsFor({ tuple, sysroot, noteObject }));

  const files = generateWrappers({
    tuple,
    compiler: facts.compiler,
    ...(facts.clang ? { clang: facts.clang } : {}),
    sysroot,
    specsFile: specs,
    noteObject,
    ...(facts.gccRuntimeDir ? { gccRuntimeDir: facts.gccRuntimeDir } : {}),
    tools: facts.tools,
  });
  const wrappers: string[] = [];
  for (const file of files) {
    const path = join(binDir, `${tuple.name}-${file.name}`);
    await writeFile(out(path), file.content);
    await chmod(out(path), 0o755);
    wrappers.push(path);
  }
  const layout = { tuple, binDir, sysroot, tools: files.map((f) => f.name) };
  const cmake = join(dataDir, 'toolchain.cmake');
  const meson = join(dataDir, 'cross.meson');
  await writeFile(out(cmake), cmakeToolchainFile(layout));
  await writeFile(out(meson), mesonCrossFile(layout));
  return { tuple: tuple.name, sysroot, specs, noteObject, cmake, meson, wrappers, provenance, libc: facts.libc };
}

async function writeToolchain(ctx: Context, prefix: string, outDir: string, facts: HostFacts): Promise<InstalledToolchain> {
  const tuples: InstalledTuple[] = [];
  for (const tuple of facts.tuples) tuples.push(await writeTupleFiles(ctx, prefix, outDir, tuple));
  const configSite = join(prefix, 'lib', 'kiln-toolchain', 'config.site');
  await writeFile(join(outDir, relative(prefix, configSite)), configSiteText(tuples));
  const installed: InstalledToolchain = {
    prefix,
    binDir: join(prefix, 'bin'),
    configSite,
    compiler: facts.compiler,
    ...(facts.clang ? { clang: facts.clang } : {}),
    tuples,
    skipped: facts.skipped,
  };
  await writeFile(join(outDir, MANIFEST), canonicalJson(installed) + '\n');
  return installed;
}

/**
 * Autoconf decides "cross compiling" by running a test program when only --host is given, and
 * a static musl program runs on any x86_64 Linux host, so configure would say "no" and go on to
 * run test programs on the host's kernel. This site file makes --host=<kiln tuple> always mean
 * cross compiling, as with any other cross toolchain; it changes nothing for other hosts.
 */
function configSiteText(tuples: readonly InstalledTuple[]): string {
  return [
    '# autoconf site file generated by kiln: --host=*-kiln-linux-* is always a cross build, and',
    "# libtool's --with-sysroot defaults to the tuple's sysroot, so .la files installed there",
    '# (libdir=/usr/lib) resolve inside it instead of on the host; static tuples build static libraries.',
    'case "$host_alias" in',
    ...tuples.map((t) => {
      // A static-by-default tuple: libtool builds static libraries unless --enable-shared is given.
      const staticOnly = getTuple(t.tuple).staticByDefault ? ' test -n "$enable_shared" || enable_shared=no;' : '';
      return `  ${t.tuple}) cross_compiling=yes; test -n "$with_sysroot" || with_sysroot=${shQuote(t.sysroot)};${staticOnly} ;;`;
    }),
    '  *-kiln-linux-*) cross_compiling=yes ;;',
    'esac',
    '',
  ].join('\n');
}

/**
 * The cache key covers the code that generates the files, not only version numbers, so a
 * changed generator (even between releases, in a checkout) never reuses stale wrappers.
 */
async function generatorFingerprint(): Promise<string> {
  const here = dirname(fileURLToPath(import.meta.url));
  const parts = await Promise.all(GENERATOR_MODULES.map((name) => readFile(join(here, name)).catch(() => Buffer.from(name))));
  return sha256(Buffer.concat(parts));
}

const GENERATOR_MODULES = ['install.js', 'specs.js', 'wrappers.js', 'buildfiles.js', 'provenance.js', 'tuples.js', 'compiler.js', 'libc.js'];

/** Installs the wrappers under options.prefix, or (the default) into kiln's cache. */
export async function installToolchain(ctx: Context, options: InstallOptions = {}): Promise<InstalledToolchain> {
  const facts = await gatherHostFacts(ctx, options);
  if (options.prefix) {
    const prefix = resolve(options.prefix);
    ctx.reporter.emit({ type: 'step', step: 'toolchain', message: `installing wrappers for ${facts.tuples.map((t) => t.tuple.name).join(', ')} into ${prefix}` });
    return writeToolchain(ctx, prefix, prefix, facts);
  }
  const key = sha256(
    canonicalJson({
      wrapper: WRAPPER_VERSION,
      kiln: KILN_VERSION,
      generator: await generatorFingerprint(),
      compiler: facts.compiler,
      clang: facts.clang ?? null,
      // Per tuple: its compiler, runtime, tools and C library directories (a new libc download is a new key).
      tuples: facts.tuples.map((t) => ({ tuple: t.tuple, compiler: t.compiler, clang: t.clang ?? null, runtime: t.gccRuntimeDir ?? null, tools: t.tools, libc: t.libc })),
      cache: ctx.paths.cache,
    }),
  ).slice(0, 16);
  const prefix = join(ctx.paths.cache, 'toolchain', key);
  const hit = await exists(join(prefix, MANIFEST));
  ctx.reporter.emit({ type: 'cache', what: 'toolchain', hit, key });
  // Generated in a temporary directory and renamed into place, with the final paths inside.
  if (!hit) await publishDirectory(prefix, (tmp) => writeToolchain(ctx, prefix, tmp, facts).then(() => undefined));
  // The manifest's mtime is the install's last use, for kiln gc (src/toolchain/cache-gc.ts).
  else await utimes(join(prefix, MANIFEST), new Date(), new Date()).catch(() => undefined);
  return JSON.parse(await readFile(join(prefix, MANIFEST), 'utf8')) as InstalledToolchain;
}
