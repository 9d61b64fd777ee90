// Writes src/export/schemas/kubevirt-virtualmachine.schema.json from KubeVirt's published
// OpenAPI document (api/openapi-spec/swagger.json of the kubevirt repository):
//   node scripts/vendor-kubevirt-schema.mjs SWAGGER.json COMMIT
// It keeps only the definitions a VirtualMachine reaches, drops descriptions (size), and sets
// additionalProperties: false on every object that lists its properties, as the API server's
// strict field validation refuses unknown fields. The result is data with its origin recorded.
import { readFileSync, writeFileSync } from 'node:fs';

const [source, commit] = process.argv.slice(2);
if (!source || !/^[0-9a-f]{40}$/.test(commit ?? '')) {
  console.error('usage: node scripts/vendor-kubevirt-schema.mjs SWAGGER.json COMMIT');
  process.exit(2);
}
const swagger = JSON.parse(readFileSync(source, 'utf8'));
const definitions = {};
const pending = ['v1.VirtualMachine'];
const strip = (value) => {
  if (Array.isArray(value)) return value.map(strip);
  if (!value || typeof value !== 'object') return value;
  const out = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'description') continue;
    if (key === '$ref') pending.push(inner.replace('#/definitions/', ''));
    out[key] = strip(inner);
  }
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
};
while (pending.length) {
  const name = pending.pop();
  if (definitions[name]) continue;
  if (!swagger.definitions[name]) throw new Error(`missing definition ${name}`);
  definitions[name] = true;
  definitions[name] = strip(swagger.definitions[name]);
}
const sorted = Object.fromEntries(Object.keys(definitions).sort().map((name) => [name, definitions[name]]));
const schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $comment: `KubeVirt VirtualMachine, from kubevirt/kubevirt api/openapi-spec/swagger.json at commit ${commit} (${swagger.info.title}, ${swagger.info.license.name}); definitions reachable from v1.VirtualMachine, descriptions removed, additionalProperties false added (strict field validation). Regenerate with scripts/vendor-kubevirt-schema.mjs.`,
  $ref: '#/definitions/v1.VirtualMachine',
  definitions: sorted,
};
writeFileSync('src/export/schemas/kubevirt-virtualmachine.schema.json', JSON.stringify(schema, null, 1) + '\n');
console.log(`${Object.keys(sorted).length} definitions`);
