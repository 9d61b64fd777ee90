import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormatsModule from 'ajv-formats';

/**
 * Validators for the published SBOM schemas: CycloneDX 1.5 from the @cyclonedx/cyclonedx-library
 * package, SPDX 2.3 vendored in src/supply/schemas (see its README).
 */

const require = createRequire(import.meta.url);
const addFormats = addFormatsModule as unknown as (ajv: Ajv | Ajv2019) => void;
const json = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

export function cycloneDxValidator(): ValidateFunction {
  const dir = `${require.resolve('@cyclonedx/cyclonedx-library/package.json').replace(/package\.json$/, '')}res/schema/`;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // Formats ajv-formats lacks: checked loosely (no spaces; an @ in e-mail addresses).
  ajv.addFormat('iri-reference', /^\S*$/);
  ajv.addFormat('idn-email', /^\S+@\S+$/);
  // The bom schema refers to its neighbours by their SNAPSHOT file names.
  ajv.addSchema({ ...json(`${dir}spdx.SNAPSHOT.schema.json`), $id: 'http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json' });
  ajv.addSchema({ ...json(`${dir}jsf-0.82.SNAPSHOT.schema.json`), $id: 'http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json' });
  return ajv.compile(json(`${dir}bom-1.5.SNAPSHOT.schema.json`));
}

export function spdxValidator(): ValidateFunction {
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(json(fileURLToPath(new URL('../../src/supply/schemas/spdx-2.3.schema.json', import.meta.url))));
}

