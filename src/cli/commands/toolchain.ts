import type { Context } from '../../context.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import { bootCheck } from '../../launch/boot-check.js';
import { DEFAULT_TUPLE, getTuple } from '../../toolchain/tuples.js';
import { installToolchain, type InstalledToolchain, type InstalledTuple } from '../../toolchain/install.js';
import { ensureSysroot } from '../../toolchain/sysroot.js';
import { shellEnvLines } from '../../toolchain/env.js';
import { verdictError, verifyToolchain } from '../../toolchain/verify.js';
import type { CompilerKind } from '../../toolchain/compiler.js';
import type { OutputMode } from '../render.js';

/** `kiln toolchain ...` and `kiln sysroot`: each one call into src/toolchain, then print. */

export interface RawToolchainOptions {
  cc?: string;
  tuple?: string[];
  prefix?: string;
}

function compilerKind(cc: string | undefined): CompilerKind | undefined {
  if (cc === undefined) return undefined;
  if (cc !== 'gcc' && cc !== 'clang') throw new KilnError(ErrorCodes.USAGE, `unknown compiler "${cc}"`, { hint: 'use --cc gcc or --cc clang' });
  return cc;
}

function install(ctx: Context, options: RawToolchainOptions): Promise<InstalledToolchain> {
  const cc = compilerKind(options.cc);
  return installToolchain(ctx, {
    ...(options.prefix ? { prefix: options.prefix } : {}),
    ...(cc ? { cc } : {}),
    ...(options.tuple && options.tuple.length > 0 ? { tuples: options.tuple } : {}),
  });
}

/**
 * The first use of a toolchain (per host compiler identity) tries each tuple once: compile,
 * link, run. The verdict is cached, so later calls cost a file read. A failure is a warning
 * here (the other tuple may be fine); `kiln toolchain check` turns it into an error.
 */
async function tryOnce(ctx: Context, toolchain: InstalledToolchain): Promise<string[]> {
  const lines: string[] = [];
  for (const t of toolchain.tuples) {
    const verdict = await verifyToolchain(ctx, toolchain, { tuple: t.tuple });
    if (verdict.ok) lines.push(`  ${t.tuple}: works (compiled, linked and ran on: ${ranOn(verdict.ranOn)})`);
    else {
      const error = verdictError(verdict);
      ctx.reporter.emit({ type: 'warning', code: error.code, message: [error.message, ...error.details.slice(0, 5)].join('\n'), ...(error.hint ? { hint: error.hint } : {}) });
      lines.push(`  ${t.tuple}: BROKEN (${error.message})`);
    }
  }
  return lines;
}

function pick(toolchain: InstalledToolchain, tupleName: string | undefined): InstalledTuple {
  const tuple = getTuple(tupleName ?? DEFAULT_TUPLE);
  const installed = toolchain.tuples.find((t) => t.tuple === tuple.name);
  if (!installed) throw new KilnError(ErrorCodes.TUPLE_UNKNOWN, `${tuple.name} could not be installed on this host`, { details: toolchain.skipped });
  return installed;
}

export async function toolchainInstallCommand(ctx: Context, options: RawToolchainOptions, mode: OutputMode): Promise<number> {
  const toolchain = await install(ctx, options);
  if (mode === 'json') {
    await tryOnce(ctx, toolchain);
    process.stdout.write(JSON.stringify(toolchain) + '\n');
    return 0;
  }
  const compiler = `${toolchain.compiler.kind} ${toolchain.compiler.version}${toolchain.clang && toolchain.compiler.kind !== 'clang' ? `, clang ${toolchain.clang.version}` : ''}`;
  process.stdout.write(`wrappers in ${toolchain.binDir} over ${compiler}\n`);
  for (const t of toolchain.tuples) process.stdout.write(`  ${t.tuple}: ${t.wrappers.length} wrappers, sysroot ${t.sysroot}\n`);
  for (const reason of toolchain.skipped) ctx.reporter.emit({ type: 'warning', code: ErrorCodes.TOOLCHAIN_PARTIAL, message: reason });
  process.stdout.write(`verdicts:\n${(await tryOnce(ctx, toolchain)).join('\n')}\n`);
  return 0;
}

export async function toolchainEnvCommand(ctx: Context, options: RawToolchainOptions): Promise<number> {
  const toolchain = await install(ctx, options);
  for (const reason of toolchain.skipped) ctx.reporter.emit({ type: 'warning', code: ErrorCodes.TOOLCHAIN_PARTIAL, message: reason });
  await tryOnce(ctx, toolchain);
  process.stdout.write(shellEnvLines(toolchain.binDir, toolchain.configSite).join('\n') + '\n');
  return 0;
}

export async function toolchainFileCommand(ctx: Context, kind: 'cmake' | 'meson', options: RawToolchainOptions): Promise<number> {
  const tupleName = options.tuple?.[0];
  const toolchain = await install(ctx, { ...options, ...(tupleName ? { tuple: [tupleName] } : {}) });
  const installed = pick(toolchain, tupleName);
  process.stdout.write((kind === 'cmake' ? installed.cmake : installed.meson) + '\n');
  return 0;
}

export async function toolchainCheckCommand(ctx: Context, options: RawToolchainOptions & { boot?: boolean; force?: boolean }, mode: OutputMode): Promise<number> {
  const tupleName = getTuple(options.tuple?.[0] ?? DEFAULT_TUPLE).name;
  const toolchain = await install(ctx, { ...options, tuple: [tupleName] });
  const verdict = await verifyToolchain(ctx, toolchain, { tuple: tupleName, ...(options.boot ? { boot: bootCheck(ctx) } : {}), ...(options.force ? { force: true } : {}) });
  if (mode === 'json') process.stdout.write(JSON.stringify(verdict) + '\n');
  else {
    for (const step of verdict.steps) process.stdout.write(`${step.ok ? 'ok  ' : 'FAIL'} ${step.step}: ${step.detail.split('\n')[0]}\n`);
  }
  if (!verdict.ok) throw verdictError(verdict);
  if (mode !== 'json') process.stdout.write(`${verdict.tuple} works over ${verdict.compiler} (ran on: ${ranOn(verdict.ranOn)})\n`);
  return 0;
}

/** A cross tuple's programs cannot run on the host: they run only under QEMU, with --boot. */
function ranOn(where: readonly string[]): string {
  return where.length > 0 ? where.join(', ') : 'nothing yet, a program for another CPU; --boot runs it under QEMU';
}

export async function sysrootCommand(ctx: Context, tuple: string): Promise<number> {
  process.stdout.write((await ensureSysroot(ctx, tuple)) + '\n');
  return 0;
}
