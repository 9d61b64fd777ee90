/**
 * The guest's view of a config: `key NUL value NUL` records (docs/guest-contract.md), which
 * the C shim can read without a JSON parser. Values never contain NUL (the schema refuses it).
 */
export type WireRecord = readonly [key: string, value: string];

export function encodeRecords(records: readonly WireRecord[]): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    if (key.includes('\0') || value.includes('\0')) throw new Error(`NUL in config record ${key}`);
    parts.push(Buffer.from(`${key}\0${value}\0`, 'utf8'));
  }
  return Buffer.concat(parts);
}

export function decodeRecords(data: Buffer): WireRecord[] {
  const fields = data.toString('utf8').split('\0');
  fields.pop(); // the trailing NUL leaves one empty field
  const records: WireRecord[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) records.push([fields[i]!, fields[i + 1]!]);
  return records;
}
