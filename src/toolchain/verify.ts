import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Context } from '../context.js';
import { KilnError, ErrorCodes, isKilnError } from '../errors.js';
import { run } from '../util/exec.js';
import { canonicalJson, sha256, writeFileAtomically } from '../util/fs.js';
import type { InstalledToolchain } from './install.js';
import { readProvenance, WRAPPER_VERSION } from './provenance.js';
import { ARCHS } from '../arch.js';
import { getTuple } from './tuples.js';

/**
 * "Never assume a compiler version": the first time a (tuple, wrappers, host compiler) triple
 * is used, kiln builds a small program with it (compile, link, run) and records the verdict in
 * its cache, keyed by the compiler's identity, so a changed compiler is tried again (and so is
 * a failed combination, on its next use). A failure
 * keeps the step that failed and the compiler's own words, which is what a user needs.
 * Running under the image's kernel is optional (`boot`): the caller passes a function that
 * bakes and boots a binary and returns its console output.
 */

export interface VerdictStep {
  step: 'compile' | 'link' | 'provenance' | 'run' | 'boot';
  ok: boolean;
  detail: string;
}

export interface Verdict {
  ok: boolean;
  tuple: string;
  wrapper: string;
  compiler: string;
  /** Where the program ran: the host kernel, and the image's kernel under QEMU if asked. */
  ranOn: ('host' | 'image')[];
  steps: VerdictStep[];
}

export interface VerifyOptions {
  tuple: string;
  /** Bakes and boots the binary, resolving to the console output (e.g. via bake + launch under TCG). */
  boot?: (binary: string) => Promise<string>;
  /** Ignore a recorded verdict. */
  force?: boolean;
}

const MARKER = 'kiln-toolchain-ok';

const C_PROGRAM = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  char *buf = malloc(64);
  snprintf(buf, 64, "%s %d", "${MARKER}", argc);
  puts(buf);
  int empty = strcmp(buf, "") == 0;
  free(buf);
  return empty;
}
`;

const CXX_PROGRAM = `#include <iostream>
#include <stdexcept>
#include <thread>
#include <string>
int main() {
  std::string out;
  std::thread t([&] { try { throw std::runtime_error("${MARKER}"); } catch (const std::exception &e) { out = e.what(); } });
  t.join();
  std::cout << out << " 1" << std::endl;
  return 0;
}
`;

function verdictPath(ctx: Context, tuple: string, compiler: string): string {
  return join(ctx.paths.cache, 'toolchain', 'verdicts', sha256(canonicalJson({ tuple, compiler, wrapper: WRAPPER_VERSION })).slice(0, 24) + '.json');
}

export async function verifyToolchain(ctx: Context, toolchain: InstalledToolchain, options: VerifyOptions): Promise<Verdict> {
  const tuple = getTuple(options.tuple);
  const installed = toolchain.tuples.find((t) => t.tuple === tuple.name);
  if (!installed) throw new KilnError(ErrorCodes.TUPLE_UNKNOWN, `${tuple.name} is not installed in ${toolchain.prefix}`, { details: toolchain.skipped });
  const compiler = installed.provenance.compiler;
  const path = verdictPath(ctx, tuple.name, compiler);
  if (!options.force) {
    const recorded = await readFile(path, 'utf8').then((text) => JSON.parse(text) as Verdict, () => undefined);
    // Only a success is reused: a failure is often fixed by installing a package, so it is
    // tried again next time (it stays on disk for inspection until then).
    if (recorded?.ok && (!options.boot || recorded.ranOn.includes('image'))) {
      ctx.reporter.emit({ type: 'cache', what: 'toolchain verdict', hit: true, key: basename(path, '.json') });
      return recorded;
    }
  }
  ctx.reporter.emit({ type: 'step', step: 'toolchain-check', message: `trying ${tuple.name} over ${compiler}` });
  // A program for another architecture cannot run under the host's kernel: only the boot check runs it.
  const runsOnHost = ARCHS[tuple.arch].nodeArch === process.arch;
  const verdict = await tryToolchain(toolchain.binDir, tuple.name, compiler, tuple.cxx, runsOnHost, options.boot);
  await writeFileAtomically(path, canonicalJson(verdict) + '\n');
  return verdict;
}

async function tryToolchain(binDir: string, tuple: string, compiler: string, cxx: boolean, runsOnHost: boolean, boot?: (binary: string) => Promise<string>): Promise<Verdict> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-tc-check-'));
  const steps: VerdictStep[] = [];
  const ranOn: Verdict['ranOn'] = [];
  const driver = join(binDir, `${tuple}-${cxx ? 'g++' : 'gcc'}`);
  const source = join(dir, cxx ? 'check.cc' : 'check.c');
  const object = join(dir, 'check.o');
  const binary = join(dir, 'check');
  const attempt = async (step: VerdictStep['step'], action: () => Promise<string>): Promise<boolean> => {
    try {
      steps.push({ step, ok: true, detail: await action() });
      return true;
    } catch (error) {
      steps.push({ step, ok: false, detail: describe(error) });
      return false;
    }
  };
  try {
    await writeFile(source, cxx ? CXX_PROGRAM : C_PROGRAM);
    const ok =
      (await attempt('compile', async () => (await run(driver, ['-std=' + (cxx ? 'c++17' : 'c11'), '-O2', '-c', source, '-o', object])).stderr.trim() || 'compiled')) &&
      (await attempt('link', async () => (await run(driver, [object, '-o', binary, ...(cxx ? ['-pthread'] : [])])).stderr.trim() || 'linked')) &&
      (await attempt('provenance', async () => {
        const note = readProvenance(binary);
        if (!note) throw new Error('the linked program has no kiln provenance note');
        if (note.tuple !== tuple) throw new Error(`the provenance note names ${note.tuple}`);
        return `${note.tuple}, ${note.wrapper}, ${note.compiler}`;
      })) &&
      (await attempt('run', async () => {
        if (!runsOnHost) return `not run on the host (a ${tuple} program needs its own CPU); kiln toolchain check --boot runs it under QEMU`;
        const { stdout } = await run(binary, []);
        if (!stdout.includes(`${MARKER} 1`)) throw new Error(`unexpected output: ${JSON.stringify(stdout)}`);
        ranOn.push('host');
        return 'ran under the host kernel';
      })) &&
      (!boot ||
        (await attempt('boot', async () => {
          const output = await boot(binary);
          if (!output.includes(`${MARKER} 1`)) throw new Error(`the program did not print its marker under the image's kernel; console tail: ${output.slice(-400)}`);
          ranOn.push('image');
          return "ran under the image's kernel (QEMU)";
        })));
    return { ok, tuple, wrapper: WRAPPER_VERSION, compiler, ranOn, steps };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function describe(error: unknown): string {
  if (isKilnError(error)) return [error.message, ...error.details].join('\n');
  return error instanceof Error ? error.message : String(error);
}

/** Turns a failed verdict into an error that says which step failed and what the compiler said. */
export function verdictError(verdict: Verdict): KilnError {
  const failed = verdict.steps.find((s) => !s.ok);
  return new KilnError(ErrorCodes.TOOLCHAIN_BROKEN, `${verdict.tuple} over ${verdict.compiler} failed at the ${failed?.step ?? 'unknown'} step`, {
    details: failed ? failed.detail.split('\n') : [],
    hint:
      failed?.step === 'compile' || failed?.step === 'link'
        ? `check that the C library of ${verdict.tuple} is installed (musl-tools for musl, g++ for gnu), then: kiln toolchain check --force`
        : 'run kiln toolchain check --force after fixing the host compiler',
  });
}
