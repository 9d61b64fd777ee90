#!/usr/bin/env node
import { Command } from 'commander';
import { createContext } from '../context.js';
import { KILN_VERSION } from '../version.js';
import { renderError, createRenderer, type OutputMode } from './render.js';
import { bakeCommand } from './commands/bake.js';
import { launchCommand, runCommand } from './commands/launch.js';
import { targetsCommand } from './commands/targets.js';
import { configSchemaCommand } from './commands/config.js';
import { inspectCommand } from './commands/inspect.js';
import { addBakeOptions, addLaunchOptions } from './options.js';

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

  addBakeOptions(program.command('bake').description('bake an app into a bootable image').argument('<app>', 'an x86_64 Linux executable, static or dynamic'))
    .requiredOption('-o, --output <dir>', 'where to write the image (a directory)')
    .action(async (app: string, options) => {
      exitCode = await bakeCommand(ctx(), app, options, outputMode(program));
    });

  addLaunchOptions(program.command('launch').description('boot an image and run its app').argument('<image>', 'an image directory made by kiln bake').argument('[args...]', 'arguments for the app (after --)'))
    .action(async (image: string, args: string[], options) => {
      exitCode = await launchCommand(ctx(), image, args, options);
    });

  addLaunchOptions(addBakeOptions(program.command('run').description('bake (cached) and launch in one step').argument('<app>', 'an x86_64 Linux executable').argument('[args...]', 'arguments for the app (after --)')))
    .action(async (app: string, args: string[], options) => {
      exitCode = await runCommand(ctx(), app, args, options);
    });

  program.command('targets').description('list targets and whether each can be launched here').action(async () => {
    exitCode = await targetsCommand(outputMode(program));
  });

  program.command('inspect').description("print an image's manifest").argument('<image>').action(async (image: string) => {
    exitCode = await inspectCommand(image);
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
