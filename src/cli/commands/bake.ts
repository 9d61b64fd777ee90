import type { Context } from '../../context.js';
import { bake } from '../../bake/index.js';
import { join } from 'node:path';
import { KilnError, ErrorCodes } from '../../errors.js';
import { exportDisk, parseDiskFormat } from '../../export/disk.js';
import { loadImage } from '../../image/manifest.js';
import { toBakeRequest, type RawBakeOptions } from '../options.js';
import { withPackageApp } from './package-app.js';
import { bakeProjectCommand, isProjectDir } from './build.js';
import type { OutputMode } from '../render.js';

export async function bakeCommand(ctx: Context, app: string, options: RawBakeOptions & { output?: string; format?: string; frozen?: boolean }, mode: OutputMode): Promise<number> {
  // A directory with kiln.toml is a project: build it, then bake its app (src/pkgbuild/bake-project.ts).
  if (await isProjectDir(app)) return (await bakeProjectCommand(ctx, app, options, mode)).code;
  if (!options.output) throw new KilnError(ErrorCodes.USAGE, "required option '-o, --output <dir>' not specified", { hint: 'kiln bake APP -o DIR (only a project directory has a default output)' });
  const request = await withPackageApp(ctx, app, toBakeRequest(app, options, ctx.env), { ...(options.binary ? { binary: options.binary } : {}), packages: options.package });
  const format = options.format === undefined ? undefined : parseDiskFormat(options.format);
  if (format && request.target.name !== 'disk') {
    throw new KilnError(ErrorCodes.USAGE, `--format is for --target disk, not ${request.target.name}`, { hint: 'kiln bake APP --target disk --format qcow2 -o DIR' });
  }
  const result = await bake(ctx, request, options.output);
  // disk.raw is the image's own disk; another format is a conversion of it, written beside it.
  if (format && format !== 'raw') await exportDisk(await loadImage(result.dir), format, join(result.dir, `disk.${format}`));
  const { manifest } = result;
  const summary = {
    image: result.dir,
    target: manifest.target,
    arch: manifest.arch,
    kernel: `${manifest.kernel.release} (${manifest.kernel.source.kind === 'debian' ? `${manifest.kernel.source.package} ${manifest.kernel.source.version}` : manifest.kernel.source.path})`,
    initrdBytes: manifest.initrd.size,
    modules: manifest.modules.length,
    memory: `${manifest.memory.defaultMiB}M default, ${manifest.memory.minimumMiB}M minimum`,
    cached: result.cached,
  };
  if (mode === 'json') process.stdout.write(JSON.stringify(summary) + '\n');
  else if (mode === 'plain') {
    process.stderr.write(
      `kiln: baked ${summary.image}: target ${summary.target}${summary.arch === 'x86_64' ? '' : ` (${summary.arch})`}, kernel ${summary.kernel}, initramfs ${(summary.initrdBytes / 1048576).toFixed(1)} MB, ${summary.modules} modules, memory ${summary.memory}${result.cached ? ' (from cache)' : ''}\n`,
    );
  }
  return 0;
}
