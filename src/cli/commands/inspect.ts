import { loadImage } from '../../image/manifest.js';

export async function inspectCommand(imageDir: string): Promise<number> {
  const image = await loadImage(imageDir);
  process.stdout.write(JSON.stringify(image.manifest, null, 2) + '\n');
  return 0;
}
