import { encodeRecords, type WireRecord } from '../config/wire.js';
import { GUEST_CONFIG_JSON, GUEST_RUNTIME_CONF } from './contract.js';
import { cpioBuffer } from '../rootfs/cpio.js';
import { canonicalJson } from '../util/fs.js';

/**
 * The newc archive that carries one instance's runtime config: /kiln/runtime.conf (the records
 * the shim reads) and the JSON it came from (for the app to read). Appended to an image's
 * initrd, the kernel unpacks it after the image's own archive. The one place it is built.
 */
export function runtimeConfigArchive(records: readonly WireRecord[], configJson: unknown): Buffer {
  return cpioBuffer([
    { path: GUEST_RUNTIME_CONF, kind: 'file', mode: 0o644, source: { data: encodeRecords(records) } },
    { path: GUEST_CONFIG_JSON, kind: 'file', mode: 0o644, source: { data: Buffer.from(canonicalJson(configJson)) } },
  ]);
}
