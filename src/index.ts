/**
 * kiln's library API. The CLI (src/cli) is a thin layer over exactly these functions.
 *
 *   const ctx = createContext({ reporter });
 *   const image = await bake(ctx, { appPath: './hello', target: getTarget('qemu') }, 'hello.img');
 *   const result = await launch(ctx, { imageDir: image.dir, args: ['hi'], console: process.stdout });
 *   process.exitCode = result.exitCode;
 */
export { createContext, type Context } from './context.js';
export { defaultPaths, type KilnPaths } from './paths.js';
export { KilnError, ErrorCodes, isKilnError, type ErrorCode } from './errors.js';
export { MemoryReporter, silentReporter, type KilnEvent, type Reporter, type ExitReport } from './events.js';
export { KILN_VERSION } from './version.js';

export { bake, gatherBakeInputs, planBake, applyBake, type BakeRequest, type BakeResult, type BakeInputs, type BakePlan } from './bake/index.js';
export { launch, type LaunchRequest, type LaunchResult } from './launch/launch.js';
export { resolveAccel, type AccelChoice, type AccelDecision } from './launch/accel.js';
export { parsePortMapping } from './launch/ports.js';
export { exitCodeFor, describeExit } from './launch/status.js';
export { loadImage, type ImageManifest, type LoadedImage } from './image/manifest.js';
export { parseRuntimeConfig, runtimeConfigJsonSchema, type RuntimeConfig } from './config/runtime.js';
export { getTarget, listTargets, probeTarget, type TargetProbe } from './targets/registry.js';
export type { Target, TargetName } from './targets/types.js';
export { toArgv, type QemuOption } from './targets/qemu/options.js';
export { pcMachineOptions } from './targets/qemu/machine.js';
export { compileC, compilerIdentity } from './toolchain/musl.js';
export { buildShim } from './init/build.js';
export { obtainKernel, loadModuleIndex, resolveModuleClosure, COMPONENT_SETS } from './components/index.js';
export { parseElf, parseElfFile, type ElfInfo } from './rootfs/elf.js';
export { resolveElfClosure } from './rootfs/libs.js';
export { writeCpio, cpioBuffer, type CpioEntry } from './rootfs/cpio.js';
