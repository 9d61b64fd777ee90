import { runtimeConfigJsonSchema } from '../../config/runtime.js';

export function configSchemaCommand(): number {
  process.stdout.write(JSON.stringify(runtimeConfigJsonSchema(), null, 2) + '\n');
  return 0;
}
