import type { Context } from '../../context.js';
import { bake } from '../../bake/index.js';
import { toBakeRequest, type RawBakeOptions } from '../options.js';
import type { OutputMode } from '../render.js';

export async function bakeCommand(ctx: Context, app: string, options: RawBakeOptions & { output: string }, mode: OutputMode): Promise<number> {
  const result = await bake(ctx, toBakeRequest(app, options, ctx.env), options.output);
  const { manifest } = result;
  const summary = {
    image: result.dir,
    target: manifest.target,
    kernel: `${manifest.kernel.release} (${manifest.kernel.source.kind === 'debian' ? `${manifest.kernel.source.package} ${manifest.kernel.source.version}` : manifest.kernel.source.path})`,
    initrdBytes: manifest.initrd.size,
    modules: manifest.modules.length,
    memory: `${manifest.memory.defaultMiB}M default, ${manifest.memory.minimumMiB}M minimum`,
    cached: result.cached,
  };
  if (mode === 'json') process.stdout.write(JSON.stringify(summary) + '\n');
  else if (mode === 'plain') {
    process.stderr.write(
      `kiln: baked ${summary.image}: target ${summary.target}, kernel ${summary.kernel}, initramfs ${(summary.initrdBytes / 1048576).toFixed(1)} MB, ${summary.modules} modules, memory ${summary.memory}${result.cached ? ' (from cache)' : ''}\n`,
    );
  }
  return 0;
}
