import { PassThrough } from 'node:stream';
import type { Context } from '../context.js';
import { bake } from '../bake/index.js';
import { launch } from './launch.js';
import { getTarget } from '../targets/registry.js';

/**
 * The boot half of a toolchain verdict: bake the check program into a qemu image and run it
 * under the image's own kernel with TCG (the accelerator that works everywhere), returning
 * what the guest printed. Kept apart from verify.ts so the toolchain does not depend on
 * bake/launch unless a boot check is asked for.
 */
export function bootCheck(ctx: Context): (binary: string) => Promise<string> {
  return async (binary) => {
    const image = await bake(ctx, { appPath: binary, target: getTarget('qemu'), args: [] });
    const stream = new PassThrough();
    let output = '';
    stream.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const result = await launch(ctx, { imageDir: image.dir, accel: 'tcg', network: 'none', timeoutSeconds: 120, console: stream });
    if (result.exitCode !== 0) output += `\n(exit status ${result.exitCode})`;
    return output;
  };
}
