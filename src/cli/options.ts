import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { KilnError, ErrorCodes } from '../errors.js';
import type { BakeRequest } from '../bake/index.js';
import { parseDataFileFlag } from '../bake/data.js';
import { parseDataPartitionFlag } from '../targets/disk/data-partition.js';
import type { LaunchRequest } from '../launch/launch.js';
import { parsePortMapping } from '../launch/ports.js';
import { getTarget } from '../targets/registry.js';
import { applyFirstTapFlags, parseNetworks, parseVolume } from './runtime-flags.js';
import { collect, parseEnvAssignments, parseMemory, parsePositiveInt } from './parse.js';
import { addSupplyOptions, toSupplyRequest, type RawSupplyOptions } from './commands/supply.js';

/** Options shared by `bake` and `run`. */
export function addBakeOptions(command: Command): Command {
  return addSupplyOptions(command)
    .option('-t, --target <name>', 'target platform (see `kiln targets`)', 'qemu')
    .option('--arch <arch>', "image architecture, x86_64 or aarch64 (default: the app's own, from its ELF header)")
    .option('--kernel <path>', "a kernel image (bzImage) to use instead of Debian's cloud kernel")
    .option('--modules <dir>', 'the lib/modules/<release> directory that goes with --kernel')
    .option('--with <set>', 'an extra kernel component set (repeatable)', collect, [])
    .option('--default-arg <arg>', 'a default argument baked into the image (repeatable)', collect, [])
    .option('--default-env <K=V>', 'a default environment variable baked into the image (repeatable)', collect, [])
    .option('--file <src:/guest/path>', 'copy a host file or directory tree into the image (repeatable)', collect, [])
    .option('--binary <path>', 'with debian:NAME or catalogue:NAME: the program inside the package to run')
    .option('--program <path>', 'another program the image carries with its shared libraries, for an app that runs it (repeatable; with debian:/catalogue:, a path inside the packages)', collect, [])
    .option('--package <name>', 'with debian:NAME or catalogue:NAME: another Debian package unpacked beside it, in the same closure (repeatable)', collect, [])
    .option('--sign-key <key.pem>', 'with --target efi|disk: sign the UKI for Secure Boot with this private key (needs --sign-cert; Debian package sbsigntool)')
    .option('--sign-cert <cert.pem>', 'the PEM certificate that goes with --sign-key')
    .option('--data-partition <size[:/mount]>', 'with --target disk: add an empty ext4 partition (GPT name kiln-data) mounted at /mount (default /data), e.g. 256M');
}

/** Options shared by `launch` and `run`. */
export function addLaunchOptions(command: Command): Command {
  return command
    .option('-m, --memory <size>', 'guest memory, e.g. 128M or 1G (default: chosen per image)')
    .option('--cpus <n>', 'virtual CPUs', '1')
    .option('-e, --env <K=V>', 'environment variable for the app (repeatable)', collect, [])
    .option('-p, --publish <[addr:]host:guest[/udp]>', 'forward a host port to the guest, on 127.0.0.1 unless addr is given (repeatable)', collect, [])
    .option('--net <mode>', 'network: user (default, no root needed), none, or tap:IFNAME[,ip=A.B.C.D/N][,gw=A.B.C.D][,dhcp] (repeatable)', collect, [])
    .option('--ip <addr/len>', 'static IPv4 address of the first tap interface')
    .option('--gw <addr>', 'default gateway via the first tap interface')
    .option('--dhcp', 'configure the first tap interface by DHCP (done by the init shim)')
    .option('--dns <addr>', 'name server for the guest (repeatable)', collect, [])
    .option('-v, --volume <src:dst[:ro]>', 'attach a host directory (copied into an ext4 image) or an ext4 image file at a guest path (repeatable)', collect, [])
    .option('-d, --detach', 'run as a managed instance in the background (see kiln ps)')
    .option('--name <name>', 'instance name for -d (default: generated)')
    .option('--restart <policy>', 'with -d: no (default) or on-failure[:N]')
    .option('--hostname <name>', 'guest hostname')
    .option('--config <file>', 'runtime config JSON (see `kiln config schema`); flags override it')
    .option('--accel <mode>', 'accelerator: auto (probe KVM, fall back to TCG), kvm or tcg', 'auto')
    .option('--firmware <kind>', 'bios or uefi (OVMF; the default for efi and disk images)')
    .option('--timeout <seconds>', 'stop the VM after this many seconds (exit status 124)')
    .option('--stop-timeout <seconds>', 'how long a graceful stop may take before the VM is killed', '10')
    .option('--gdb <port>', "open QEMU's gdb stub on 127.0.0.1:PORT")
    .option('--verbose', 'let the init shim log each step on the console');
}

export interface RawBakeOptions extends RawSupplyOptions {
  target: string;
  arch?: string;
  kernel?: string;
  modules?: string;
  with: string[];
  defaultArg: string[];
  defaultEnv: string[];
  file: string[];
  binary?: string;
  program: string[];
  package: string[];
  dataPartition?: string;
  signKey?: string;
  signCert?: string;
}

export function toBakeRequest(appPath: string, options: RawBakeOptions, env: NodeJS.ProcessEnv): BakeRequest {
  if (options.modules && !options.kernel) throw new KilnError(ErrorCodes.USAGE, '--modules needs --kernel', { hint: 'give the kernel image that matches the modules' });
  return {
    appPath,
    target: getTarget(options.target, options.arch),
    ...(options.arch ? { arch: options.arch } : {}),
    args: options.defaultArg,
    env: parseEnvAssignments(options.defaultEnv, env),
    ...(options.kernel ? { kernelPath: options.kernel } : {}),
    ...(options.modules ? { modulesDir: options.modules } : {}),
    extraComponentSets: options.with,
    files: options.file.map(parseDataFileFlag),
    ...(options.program.length > 0 ? { programs: options.program } : {}),
    ...(options.dataPartition ? { dataPartition: parseDataPartitionFlag(options.dataPartition) } : {}),
    ...signingFlags(options),
    ...withSupply(toSupplyRequest(options, env)),
  };
}

function signingFlags(options: RawBakeOptions): Pick<BakeRequest, 'signing'> {
  if (!options.signKey && !options.signCert) return {};
  if (!options.signKey || !options.signCert) throw new KilnError(ErrorCodes.USAGE, '--sign-key and --sign-cert go together', { hint: 'give both, e.g. --sign-key db.key --sign-cert db.crt' });
  return { signing: { keyPath: options.signKey, certPath: options.signCert } };
}

function withSupply(supply: BakeRequest['supply']): Pick<BakeRequest, 'supply'> {
  return supply ? { supply } : {};
}

export interface RawLaunchOptions {
  memory?: string;
  cpus: string;
  env: string[];
  publish: string[];
  net: string[];
  ip?: string;
  gw?: string;
  dhcp?: boolean;
  dns: string[];
  volume: string[];
  detach?: boolean;
  name?: string;
  restart?: string;
  hostname?: string;
  config?: string;
  accel: string;
  firmware?: string;
  timeout?: string;
  stopTimeout: string;
  gdb?: string;
  verbose?: boolean;
}

export async function toLaunchRequest(
  imageDir: string,
  args: string[],
  options: RawLaunchOptions,
  env: NodeJS.ProcessEnv,
): Promise<Omit<LaunchRequest, 'console'>> {
  if (!['auto', 'kvm', 'tcg'].includes(options.accel)) {
    throw new KilnError(ErrorCodes.USAGE, `unknown accelerator "${options.accel}"`, { hint: 'use --accel auto, kvm or tcg' });
  }
  const { network, taps } = parseNetworks(options.net);
  applyFirstTapFlags(taps, options);
  return {
    imageDir,
    ...(args.length > 0 ? { args } : {}),
    ...(options.env.length > 0 ? { env: parseEnvAssignments(options.env, env) } : {}),
    ...(options.hostname ? { hostname: options.hostname } : {}),
    ...(options.config ? { config: await readConfigFile(options.config) } : {}),
    ...(options.memory ? { memoryMiB: parseMemory(options.memory) } : {}),
    cpus: parsePositiveInt(options.cpus, '--cpus'),
    accel: options.accel as 'auto' | 'kvm' | 'tcg',
    ...(options.firmware ? { firmware: parseFirmware(options.firmware) } : {}),
    network,
    ...(taps.length > 0 ? { taps } : {}),
    ...(options.dns.length > 0 ? { dns: options.dns } : {}),
    ...(options.volume.length > 0 ? { volumes: options.volume.map((spec) => parseVolume(spec)) } : {}),
    ports: options.publish.map(parsePortMapping),
    ...(options.timeout ? { timeoutSeconds: parsePositiveInt(options.timeout, '--timeout') } : {}),
    stopTimeoutSeconds: parsePositiveInt(options.stopTimeout, '--stop-timeout'),
    ...(options.gdb ? { gdb: { address: '127.0.0.1', port: parsePositiveInt(options.gdb, '--gdb') } } : {}),
    ...(options.verbose ? { verbose: true } : {}),
  };
}

function parseFirmware(value: string): 'bios' | 'uefi' {
  if (value !== 'bios' && value !== 'uefi') throw new KilnError(ErrorCodes.USAGE, `unknown firmware "${value}"`, { hint: 'use --firmware bios or uefi' });
  return value;
}

async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new KilnError(ErrorCodes.CONFIG_INVALID, `cannot read runtime config ${path}`, { cause: error, hint: 'check the --config path' });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new KilnError(ErrorCodes.CONFIG_INVALID, `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
