// Copies non-TypeScript assets the library reads at run time (the init shim's C sources)
// next to the compiled code, so dist/ is self-contained.
import { cpSync, rmSync } from 'node:fs';

// Directories are mirrored: removed first, so a file deleted from the source tree does not
// linger in dist/ (the shim build compiles every .c file it finds there).
const assets = ['src/init/shim', 'src/export/schemas'];
for (const asset of assets) {
  const out = `dist/${asset}`;
  rmSync(out, { recursive: true, force: true });
  cpSync(asset, out, { recursive: true });
}
