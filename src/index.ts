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
export { launch } from './launch/launch.js';
export type { LaunchRequest, LaunchResult, TapRequest, EngineKind } from './launch/types.js';
export { planLaunch, chooseAccel, composeRuntimeConfig, type LaunchPlan, type PlanRequest, type HostFacts, type KvmFacts } from './launch/plan.js';
export { gatherHostFacts } from './launch/host-facts.js';
export type { Engine, EngineResult, RunControl } from './launch/engine.js';
export { engineFor, qemuEngine } from './launch/engines/index.js';
export {
  createInstance,
  inspectInstance,
  listInstances,
  stopInstance,
  removeInstance,
  type DetachedRequest,
  type InstanceInfo,
  type BrokenInstance,
  type StopResult,
} from './instances/manage.js';
export { instanceLogs } from './instances/logs.js';
export type { InstanceSpec, InstanceStatus, InstanceState, RestartPolicy } from './instances/store.js';
export { prepareVolumes, makeExt4FromDirectory, type PreparedVolume } from './volumes/image.js';
export { resolveAccel, type AccelChoice, type AccelDecision } from './launch/accel.js';
export { parsePortMapping } from './launch/ports.js';
export { exitCodeFor, describeExit } from './launch/status.js';
export { loadImage, type ImageManifest, type LoadedImage } from './image/manifest.js';
// Supply chain (src/supply): inventory, licenses, advisories, SBOMs.
export {
  audit,
  imageComponents,
  imageLicenses,
  imageSbomDocument,
  takeInventory,
  loadAdvisories,
  auditComponents,
  checkLicense,
  policyViolations,
  compareDebianVersions,
  compareSemver,
  cvss3BaseScore,
  cycloneDx,
  spdx,
  lockComponents,
  type AuditRequest,
  type AuditResult,
  type AuditReport,
  type AuditFinding,
  type LicensePolicy,
  type LicenseReport,
  type SupplyRequest,
  type SbomFormat,
  type Severity,
} from './supply/index.js';
export type { Component, ComponentInput } from './image/components.js';
export { parseRuntimeConfig, runtimeConfigJsonSchema, type RuntimeConfig, type Volume } from './config/runtime.js';
export { getTarget, listTargets, driverFor, probeTarget, probeTargets, qemuMachineOptions, type TargetProbe } from './targets/registry.js';
export { qemuTarget, microvmTarget, xenTarget, efiTarget, diskTarget, virtTarget, targetForArch } from './targets/registry.js';
export { ARCHS, DEFAULT_ARCH, getArch, isArch, archForElfMachine, kvmPossibleFor, type Arch, type ArchInfo } from './arch.js';
export { virtMachineOptions, VIRT_TCG_CPU } from './targets/virt/machine.js';
export { parseArm64Image, isArm64Image, type Arm64ImageInfo } from './components/arm64-image.js';
export { obtainForeignLibc, type LibcEntry } from './toolchain/libc.js';
export type { Target, TargetName, TargetDriver, MachineRequest, Platform, ConfigDelivery, KernelForm, VirtTarget } from './targets/types.js';
export type { PlatformProbe } from './targets/probe.js';
export { microvmMachineOptions } from './targets/microvm/machine.js';
export { firecrackerConfig } from './targets/microvm/firecracker.js';
export { xlConfig, type XlInput } from './targets/xen/xl.js';
export { xlConfigForImage } from './targets/xen/image.js';
export { runWithXl, instanceXlConfig, xlEngine, type XlRun, type XlResult } from './launch/engines/xl.js';
export { planDataPartition, parseDataPartitionFlag, type DataPartition } from './targets/disk/data-partition.js';
export { planSigning, signPe, type SigningRequest, type Signing } from './targets/efi/sign.js';
export { buildUki, EFI_STUB, type UkiInput } from './targets/efi/uki.js';
export { uefiMachineOptions, type UefiBoot } from './targets/efi/machine.js';
export { exportLibvirt, libvirtDomainXml, type LibvirtInput, type LibvirtExportOptions } from './export/libvirt.js';
export { exportDisk, type DiskFormat } from './export/disk.js';
export { toArgv, type QemuOption } from './targets/qemu/options.js';
export { pcMachineOptions } from './targets/qemu/machine.js';
export { compileC, compilerIdentity } from './toolchain/musl.js';
export {
  TUPLES,
  DEFAULT_TUPLE,
  getTuple,
  detectCompiler,
  installToolchain,
  sysrootPath,
  ensureSysroot,
  readProvenance,
  shellEnvLines,
  WRAPPER_VERSION,
  type TupleInfo,
  type HostCompiler,
  type CompilerKind,
  type InstallOptions,
  type InstalledToolchain,
  type InstalledTuple,
  type Provenance,
} from './toolchain/index.js';
export { verifyToolchain, verdictError, type Verdict, type VerdictStep } from './toolchain/verify.js';
export { bootCheck } from './launch/boot-check.js';
export { buildShim } from './init/build.js';
export { obtainKernel, loadModuleIndex, resolveModuleClosure, COMPONENT_SETS } from './components/index.js';
export { parseElf, parseElfFile, type ElfInfo } from './rootfs/elf.js';
export { resolveElfClosure } from './rootfs/libs.js';
export { writeCpio, cpioBuffer, type CpioEntry } from './rootfs/cpio.js';
// Packages (src/packages): recipes, kiln.toml, sources and indexes, the resolver, kiln.lock.
export * as packages from './packages/index.js';
// Package builds and the shared store (src/pkgbuild, src/store).
export * as build from './pkgbuild/index.js';
export * as store from './store/index.js';
// Debian binary packages as inputs (src/debian): closure through apt, staging root, bake parts.
export {
  resolveDebianClosure,
  realiseDebian,
  debianBakeRequest,
  debianRecipeBakeRequest,
  type DebianLock,
  type DebianLockEntry,
  type DebianImageSpec,
  type DebianBakeParts,
} from './debian/index.js';
// Distribution (src/oci): registry references, the distribution client, push, pull, the store of pulled images.
export * as oci from './oci/index.js';
// Signatures (src/signing): cosign-compatible keys, signing and verifying images in registries, policies.
export * as signing from './signing/index.js';
