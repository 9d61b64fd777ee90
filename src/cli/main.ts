#!/usr/bin/env node
import { Command } from 'commander';
import { createContext } from '../context.js';
import { KILN_VERSION } from '../version.js';
import { renderError, createRenderer, type OutputMode } from './render.js';
import { bakeCommand } from './commands/bake.js';
import { launchCommand, runCommand } from './commands/launch.js';
import { targetsCommand } from './commands/targets.js';
import { exportCommand } from './commands/export.js';
import { configSchemaCommand } from './commands/config.js';
import { inspectCommand } from './commands/inspect.js';
import { inspectAnyCommand, logsCommand, psCommand, rmCommand, stopCommand } from './commands/instances.js';
import { addBakeOptions, addLaunchOptions } from './options.js';
import { sysrootCommand, toolchainCheckCommand, toolchainEnvCommand, toolchainFileCommand, toolchainInstallCommand } from './commands/toolchain.js';
import { collect } from './parse.js';
import { buildCommand, gcCommand } from './commands/build.js';
import { addCommand, indexBuildCommand, initCommand, lockCommand, recipeCheckCommand, recipeSchemaCommand, treeCommand, whyCommand } from './commands/packages.js';
import { auditCommand, licensesCommand, sbomCommand } from './commands/supply.js';
import { addRegistryOptions, loginCommand, logoutCommand, pullCommand, pushCommand } from './commands/registry.js';
import { addVerifyOptions, keyGenerateCommand, signCommand, verifyCommand } from './commands/signing.js';

/**
 * The command table. Each action is one call into a command module, which calls the library;
 * this file only wires arguments and owns the single error boundary.
 */
function outputMode(program: Command): OutputMode {
  const global = program.opts<{ json?: boolean; quiet?: boolean }>();
  return global.json ? 'json' : global.quiet ? 'quiet' : 'plain';
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('kiln')
    .description('Turn any application into a small single-purpose VM image, and run it')
    .version(KILN_VERSION)
    .option('--json', 'print events and errors as NDJSON on stderr')
    .option('-q, --quiet', 'print only warnings and errors')
    .showHelpAfterError()
    .exitOverride();

  let exitCode = 0;
  const ctx = () => createContext({ reporter: createRenderer(outputMode(program)) });

  addBakeOptions(program.command('bake').description('bake an app into a bootable image').argument('<app>', 'an x86_64 Linux executable (static or dynamic), debian:PACKAGE[=VERSION] or catalogue:NAME'))
    .option('-o, --output <dir>', 'where to write the image (a directory; required except for a project, default DIR/.kiln/images/TARGET)')
    .option('--frozen', 'for a project: fail if kiln.lock does not match kiln.toml instead of updating it')
    .option('--format <format>', 'with --target disk: also write the disk as qcow2, vmdk or vhd (disk.raw is always written)')
    .action(async (app: string, options) => {
      exitCode = await bakeCommand(ctx(), app, options, outputMode(program));
    });

  addLaunchOptions(program.command('launch').description('boot an image and run its app').argument('<image>', 'an image directory made by kiln bake').argument('[args...]', 'arguments for the app (after --)'))
    .action(async (image: string, args: string[], options) => {
      exitCode = await launchCommand(ctx(), image, args, options);
    });

  addRegistryOptions(addLaunchOptions(addBakeOptions(program.command('run').description('bake (cached) and launch in one step, or pull and launch an image from a registry').argument('<app>', 'an x86_64 Linux executable, debian:PACKAGE[=VERSION], catalogue:NAME, or a registry reference HOST[:PORT]/REPO[:TAG][@DIGEST]').argument('[args...]', 'arguments for the app (after --)'))))
    .option('--platform <os/arch>', 'with a registry reference: which image of a multi-arch index (default: this host\'s)')
    .option('--verify-key <kiln.pub>', 'with a registry reference: require a signature by this key before anything is launched (repeatable)', collect, [])
    .option('--policy <file>', 'with a registry reference: require signatures as this signing policy says')
    .action(async (app: string, args: string[], options) => {
      exitCode = await runCommand(ctx(), app, args, options);
    });

  // Cross toolchain (src/toolchain): wrappers for the kiln tuples over the host's gcc or clang.
  const toolchain = program.command('toolchain').description('cross toolchain wrappers: x86_64-kiln-linux-musl-gcc and friends');
  const toolchainOptions = (command: Command, tuples: 'many' | 'one'): Command =>
    command
      .option('--cc <compiler>', 'the host compiler behind cc/gcc/c++/g++: gcc or clang (default: gcc if installed)')
      .option('--tuple <tuple>', tuples === 'many' ? 'install only this tuple (repeatable; default: all)' : 'the target tuple (default: x86_64-kiln-linux-musl)', collect, []);
  toolchainOptions(toolchain.command('install').description('write the wrappers under --prefix (bin/<tuple>-gcc, ...) or into the kiln cache'), 'many')
    .option('--prefix <dir>', 'install prefix, e.g. ~/.local (default: a directory in the kiln cache)')
    .action(async (options) => {
      exitCode = await toolchainInstallCommand(ctx(), options, outputMode(program));
    });
  toolchainOptions(toolchain.command('env').description('print shell lines that put the wrappers on PATH: eval "$(kiln toolchain env)"'), 'many').action(async (options) => {
    exitCode = await toolchainEnvCommand(ctx(), options);
  });
  for (const kind of ['cmake', 'meson'] as const) {
    toolchainOptions(toolchain.command(kind).description(`print the path of the ${kind === 'cmake' ? 'CMake toolchain file' : 'Meson cross file'} for a tuple`), 'one').action(async (options) => {
      exitCode = await toolchainFileCommand(ctx(), kind, options);
    });
  }
  toolchainOptions(toolchain.command('check').description('build and run a test program with the toolchain (once per compiler), print the verdict'), 'one')
    .option('--boot', "also run it under the image's kernel (bake + launch under TCG)")
    .option('--force', 'ignore a recorded verdict')
    .action(async (options) => {
      exitCode = await toolchainCheckCommand(ctx(), options, outputMode(program));
    });
  program.command('sysroot').description('print (and create) the sysroot of a tuple, where packages install').argument('<tuple>').action(async (tuple: string) => {
    exitCode = await sysrootCommand(ctx(), tuple);
  });

  program.command('targets').description('list targets and whether each can be launched here').action(async () => {
    exitCode = await targetsCommand(outputMode(program));
  });

  program
    .command('export')
    .description('export an image for another tool (libvirt domain XML or a KubeVirt VirtualMachine on stdout, or a converted disk)')
    .argument('<image>', 'an image directory made by kiln bake --target qemu')
    .option('--libvirt', 'print a libvirt domain (virsh define FILE)')
    .option('--disk <format>', "convert a disk image's disk: raw, qcow2, vmdk or vhd (with -o)")
    .option('-o, --output <file>', 'where --disk writes')
    .option('--initrd-out <file>', "where to write the domain's initrd (default: libvirt-initrd.cpio in the image)")
    .option('--network <name...>', "libvirt networks for eth0, eth1, … (default: default; 'none' for none)")
    .option('--domain-type <kvm|qemu>', 'kvm, or qemu for software emulation', 'kvm')
    .option('--kubevirt <reference>', 'print a KubeVirt VirtualMachine (JSON) that boots the containerDisk at REFERENCE (pushed with kiln push --containerdisk)')
    .option('--name <name>', 'with --kubevirt: the VirtualMachine name (default: the app name)')
    .action(async (image: string, options) => {
      exitCode = await exportCommand(ctx(), image, options);
    });

  program.command('inspect').description("print an image's manifest, or an instance's spec and status").argument('<image|instance>').action(async (target: string) => {
    exitCode = await inspectAnyCommand(ctx(), target, inspectCommand);
  });

  program.command('ps').description('list instances (running ones; -a for all)').option('-a, --all', 'include exited and failed instances').action(async (options) => {
    exitCode = await psCommand(ctx(), options, outputMode(program));
  });
  program.command('logs').description("print an instance's console").argument('<instance>').option('-f, --follow', 'keep printing until the instance ends').action(async (name: string, options) => {
    exitCode = await logsCommand(ctx(), name, options);
  });
  program.command('stop').description('stop instances gracefully (ACPI power button → SIGTERM to the app), then by force').argument('<instance...>').option('-t, --time <seconds>', "how long to wait before killing (default: the instance's --stop-timeout)").action(async (names: string[], options) => {
    exitCode = await stopCommand(ctx(), names, options);
  });
  program.command('kill').description('kill instances at once').argument('<instance...>').action(async (names: string[]) => {
    exitCode = await stopCommand(ctx(), names, { kill: true });
  });
  program.command('rm').description("remove instances' state").argument('<instance...>').option('-f, --force', 'kill a running instance first; remove damaged state').action(async (names: string[], options) => {
    exitCode = await rmCommand(ctx(), names, options);
  });

  // Supply chain (src/supply): what an image contains, under which licenses, with which known vulnerabilities.
  program.command('licenses').description('list every component of an image with its SPDX license').argument('<image>')
    .option('--bundle <dir>', 'write license texts, copyright files and a written source offer to DIR')
    .action(async (image: string, options) => {
      exitCode = await licensesCommand(ctx(), image, options, outputMode(program));
    });
  program.command('audit').description('match an image or kiln.lock against OSV advisories; exit 1 on findings at or above --severity').argument('<image|kiln.lock>')
    .option('--db <dir|url>', 'OSV advisory database: a directory of JSON files or an http(s) URL (default: $KILN_ADVISORIES)')
    .option('--severity <level>', 'fail on findings at or above low, medium, high or critical', 'low')
    .action(async (target: string, options) => {
      exitCode = await auditCommand(ctx(), target, options, outputMode(program));
    });
  program.command('sbom').description("write an image's SBOM (CycloneDX 1.5 or SPDX 2.3 JSON)").argument('<image>')
    .option('--format <format>', 'cyclonedx or spdx', 'cyclonedx')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .action(async (image: string, options) => {
      exitCode = await sbomCommand(ctx(), image, options);
    });

  // Distribution (src/oci): images in OCI registries.
  addRegistryOptions(program.command('push').description('push images to an OCI registry (one image, or one per architecture for an image index); prints the digest').argument('<image-and-reference...>', 'IMAGE... HOST[:PORT]/REPO[:TAG]'))
    .option('--platform <list>', 'check that the images are exactly these platforms, e.g. linux/amd64,linux/arm64')
    .option('--source <url>', 'org.opencontainers.image.source annotation')
    .option('--no-sbom', 'do not attach the SBOM as a referrer')
    .option('--containerdisk', "push a disk-target image as a KubeVirt containerDisk (the qcow2 under /disk/) instead of a kiln image")
    .option('--sign-key <kiln.key>', 'sign the pushed digest with this cosign key (password from COSIGN_PASSWORD or a prompt)')
    .action(async (args: string[], options) => {
      exitCode = await pushCommand(ctx(), args, options, outputMode(program));
    });
  addVerifyOptions(addRegistryOptions(program.command('pull').description('pull a kiln image into the local store (verified); prints its directory').argument('<reference>', 'HOST[:PORT]/REPO[:TAG][@sha256:DIGEST]'))
    .option('--platform <os/arch>', 'which image of a multi-arch index (default: this host\'s)'), '--verify-key')
    .action(async (ref: string, options) => {
      exitCode = await pullCommand(ctx(), ref, options, outputMode(program));
    });
  addRegistryOptions(program.command('login').description("check a registry credential and store it in docker's config.json (or its credential helper)").argument('<registry>', 'HOST[:PORT]'))
    .option('-u, --username <user>', 'user name')
    .option('--password-stdin', 'read the password from stdin')
    .action(async (registry: string, options) => {
      exitCode = await loginCommand(ctx(), registry, options);
    });
  const key = program.command('key').description('cosign-compatible signing keys');
  key.command('generate').description('write an ECDSA P-256 key pair: KEY (encrypted; password from COSIGN_PASSWORD or a prompt) and KEY with .pub').option('-o, --output <file>', 'the private key file', 'kiln.key').action(async (options) => {
    exitCode = await keyGenerateCommand(ctx(), options);
  });
  addRegistryOptions(program.command('sign').description('sign an image in a registry by its digest (cosign signature under sha256-<hex>.sig and a Sigstore bundle referrer)').argument('<reference>'))
    .option('--key <kiln.key>', 'the cosign private key')
    .action(async (ref: string, options) => {
      exitCode = await signCommand(ctx(), ref, options, outputMode(program));
    });
  addVerifyOptions(addRegistryOptions(program.command('verify').description("verify an image's signature by digest with a public key or a policy; prints the digest").argument('<reference>')), '--key')
    .action(async (ref: string, options) => {
      exitCode = await verifyCommand(ctx(), ref, options, outputMode(program));
    });
  program.command('logout').description("forget a registry's credential").argument('<registry>', 'HOST[:PORT]').action(async (registry: string) => {
    exitCode = await logoutCommand(ctx(), registry);
  });

  // Packages (src/packages): kiln.toml, dependency resolution, kiln.lock, recipes and indexes.
  program.command('init').description('create kiln.toml and a hello-world main.c (never overwrites)').argument('[dir]', 'project directory', '.').option('--name <name>', 'package name (default: the directory name)').action(async (dir: string, options) => {
    exitCode = await initCommand(ctx(), dir, options);
  });
  program.command('add').description('add dependencies to kiln.toml (NAME or NAME@RANGE; default range ^NEWEST) and lock').argument('<package...>').option('--build', 'add to [build-dependencies]').option('--dir <dir>', 'project directory', '.').action(async (specs: string[], options) => {
    exitCode = await addCommand(ctx(), specs, options);
  });
  program.command('lock').description('resolve kiln.toml and write kiln.lock (kept as is while it still matches)').option('--frozen', 'fail with KILN_LOCK_DRIFT instead of changing kiln.lock').option('--update <name>', 'move this package to its newest allowed version (repeatable)', collect, []).option('--dir <dir>', 'project directory', '.').action(async (options) => {
    exitCode = await lockCommand(ctx(), options);
  });
  program.command('tree').description('print the locked dependency tree (build-only dependencies marked)').option('--dir <dir>', 'project directory', '.').action(async (options) => {
    exitCode = await treeCommand(options, outputMode(program));
  });
  program.command('why').description('print every dependency path from the project to a package').argument('<name>').option('--dir <dir>', 'project directory', '.').action(async (name: string, options) => {
    exitCode = await whyCommand(name, options, outputMode(program));
  });
  const recipe = program.command('recipe').description('recipe tools');
  recipe.command('schema').description('print the JSON Schema of recipes (--project: of kiln.toml)').option('--project', 'the kiln.toml schema').action((options) => {
    exitCode = recipeSchemaCommand(options);
  });
  recipe.command('check').description('validate a recipe.toml or kiln.toml; every problem is listed with its path').argument('<file>').action(async (file: string) => {
    exitCode = await recipeCheckCommand(ctx(), file);
  });
  program.command('index').description('package index tools').command('build').description('write DIR/index.json for a directory of <name>/<version>/recipe.toml so it can be served over HTTP').argument('<dir>').action(async (dir: string) => {
    exitCode = await indexBuildCommand(ctx(), dir);
  });

  // Package builds and the store (src/pkgbuild, src/store).
  program.command('build').description('build every locked package of a project, then the project, into the shared store').argument('[dir]', 'the project directory (holding kiln.toml)', '.')
    .option('--frozen', 'fail if kiln.lock does not match kiln.toml instead of updating it')
    .action(async (dir: string, options) => {
      exitCode = await buildCommand(ctx(), dir, options, outputMode(program));
    });
  program.command('gc').description('remove store entries and cached sources no project uses, old build logs, and what interrupted builds left').option('--dry-run', 'print what would be removed, remove nothing')
    .action(async (options) => {
      exitCode = await gcCommand(ctx(), options, outputMode(program));
    });

  program
    .command('config')
    .description('runtime config tools')
    .command('schema')
    .description('print the JSON Schema of the runtime config')
    .action(() => {
      exitCode = configSchemaCommand();
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    const commanderError = error as { code?: string; exitCode?: number };
    if (typeof commanderError.code === 'string' && commanderError.code.startsWith('commander.')) return commanderError.exitCode ?? 2;
    renderError(error, outputMode(program));
    return 125;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    renderError(error, 'plain');
    process.exitCode = 125;
  },
);
