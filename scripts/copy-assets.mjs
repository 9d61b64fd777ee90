// Copies non-TypeScript assets the library reads at run time (the init shim's C source)
// next to the compiled code, so dist/ is self-contained.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const assets = ['src/init/shim.c'];
for (const asset of assets) {
  const out = `dist/${asset}`;
  mkdirSync(dirname(out), { recursive: true });
  copyFileSync(asset, out);
}
