import type { RuntimeConfig } from '../config/runtime.js';
import type { WireRecord } from '../config/wire.js';

/** Guest paths fixed by docs/guest-contract.md. */
export const GUEST_INIT = '/kiln/init';
export const GUEST_IMAGE_CONF = '/kiln/image.conf';
export const GUEST_RUNTIME_CONF = '/kiln/runtime.conf';
export const GUEST_CONFIG_JSON = '/kiln/config.json';
export const CONTRACT_VERSION = 1;

/** How the shim ends the VM once it has reported the app's status. */
export type ExitMethod = { kind: 'isa-debug-exit'; port: number } | { kind: 'poweroff' };

export interface AppDefaults {
  path: string;
  args: string[];
  env: Record<string, string>;
  workdir?: string;
}

/** The app's defaults as an image records them (image.json's `app`): what runtime config is laid over. */
export function appDefaults(image: { app: { guestPath: string; args: string[]; env: Record<string, string>; workdir?: string | undefined } }): AppDefaults {
  const { app } = image;
  return { path: app.guestPath, args: app.args, env: app.env, ...(app.workdir ? { workdir: app.workdir } : {}) };
}

export interface GuestPlumbing {
  statusDevice: string;
  exit: ExitMethod;
  /** CHIP:LINE of a GPIO power button (QEMU's arm virt board has no ACPI); absent where ACPI has it. */
  powerGpio?: string;
}

/**
 * The virtio-blk serial number of the index-th volume: the shim finds the disk by reading
 * /sys/block/vdX/serial, so the mount does not depend on the order devices are probed in.
 */
export function volumeSerial(index: number): string {
  return `kiln-vol${index}`;
}

export function imageConfRecords(modulePaths: readonly string[]): WireRecord[] {
  return modulePaths.map((path) => ['module', path] as const);
}

/**
 * Merges the image's defaults with one instance's runtime config into the records the shim
 * reads: runtime args replace the defaults, runtime env is laid over the default env.
 */
export function runtimeConfRecords(app: AppDefaults, config: RuntimeConfig, plumbing: GuestPlumbing): WireRecord[] {
  const records: WireRecord[] = [
    ['version', String(CONTRACT_VERSION)],
    ['app', app.path],
  ];
  for (const arg of config.args ?? app.args) records.push(['arg', arg]);
  const env = { ...app.env, ...config.env };
  for (const name of Object.keys(env).sort()) records.push(['env', `${name}=${env[name]}`]);
  const workdir = config.workdir ?? app.workdir;
  if (workdir) records.push(['workdir', workdir]);
  if (config.hostname) records.push(['hostname', config.hostname]);
  for (const iface of config.network?.interfaces ?? []) {
    records.push(['iface', iface.name]);
    if (iface.address) records.push(['addr', iface.address]);
    if (iface.dhcp) records.push(['dhcp', '1']);
    if (iface.gateway) records.push(['gw', iface.gateway]);
    if (iface.mtu) records.push(['mtu', String(iface.mtu)]);
    if (iface.optional) records.push(['optional', '1']);
  }
  for (const server of config.network?.dns ?? []) records.push(['dns', server]);
  (config.volumes ?? []).forEach((volume, index) => {
    records.push(['volume', volumeSerial(index)], ['mount', volume.target]);
    if (volume.readOnly) records.push(['ro', '1']);
  });
  records.push(['status', plumbing.statusDevice]);
  records.push(['exit', plumbing.exit.kind === 'isa-debug-exit' ? `isa-debug-exit:0x${plumbing.exit.port.toString(16)}` : 'poweroff']);
  if (plumbing.powerGpio) records.push(['power-gpio', plumbing.powerGpio]);
  if (config.verbose) records.push(['verbose', '1']);
  return records;
}
