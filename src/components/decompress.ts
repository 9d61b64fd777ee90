import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { KilnError, ErrorCodes } from '../errors.js';

/**
 * Decompresses a file into memory. gzip goes through Node's zlib; the formats Node 20 cannot
 * read go through the Debian tools that write them (never a downloaded binary).
 */
export type CompressionFormat = 'gzip' | 'xz' | 'zstd' | 'lz4';

const TOOLS: Record<Exclude<CompressionFormat, 'gzip'>, { program: string; debianPackage: string }> = {
  xz: { program: 'xz', debianPackage: 'xz-utils' },
  zstd: { program: 'zstd', debianPackage: 'zstd' },
  lz4: { program: 'lz4', debianPackage: 'lz4' },
};

export async function decompressFile(path: string, format: CompressionFormat, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  if (format === 'gzip') return gunzipSync(await readFile(path));
  const { program, debianPackage } = TOOLS[format];
  return new Promise((resolve, reject) => {
    execFile(program, ['-dc', '--', path], { encoding: 'buffer', maxBuffer: 1024 * 1024 * 1024, env }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new KilnError(ErrorCodes.TOOL_MISSING, `${program} is not installed`, { hint: `install it with: apt-get install ${debianPackage}`, cause: error }));
      }
      reject(
        new KilnError(ErrorCodes.TOOL_FAILED, `${program} could not decompress ${path}`, {
          details: stderr.toString('utf8').trim().split('\n').slice(-5),
          cause: error,
        }),
      );
    });
  });
}
