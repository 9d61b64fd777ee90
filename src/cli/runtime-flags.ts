import { KilnError, ErrorCodes } from '../errors.js';
import type { Volume } from '../config/runtime.js';
import type { TapRequest } from '../launch/launch.js';
import type { RestartPolicy } from '../instances/store.js';

/**
 * `-v SOURCE:TARGET[:ro|:rw]`. SOURCE is a host directory (copied into an ext4 image) or an
 * ext4 image file; relative sources are taken from the current directory, as docker does.
 */
export function parseVolume(spec: string, cwd = process.cwd()): Volume {
  const bad = (why: string) =>
    new KilnError(ErrorCodes.USAGE, `invalid volume "${spec}": ${why}`, { hint: 'use -v HOSTDIR:/guest/path[:ro] or -v FILE.img:/guest/path[:ro]' });
  const parts = spec.split(':');
  let mode: string | undefined;
  if (parts.length === 3) mode = parts.pop();
  if (parts.length !== 2) throw bad('expected SOURCE:TARGET[:ro]');
  const [source, target] = parts as [string, string];
  if (!source) throw bad('the host path is empty');
  if (!target.startsWith('/')) throw bad(`the guest path "${target}" is not absolute`);
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw bad(`unknown mode "${mode}" (use ro or rw)`);
  const absolute = source.startsWith('/') ? source : `${cwd.replace(/\/$/, '')}/${source.replace(/^\.\//, '')}`;
  return { source: absolute, target, ...(mode === 'ro' ? { readOnly: true } : {}) };
}

/**
 * `--net user`, `--net none`, `--net tap:IFNAME[,ip=A.B.C.D/N][,gw=A.B.C.D][,dhcp][,mtu=N]`
 * (repeatable: each tap is one more guest interface, after the user-mode one if any).
 */
export function parseNetworks(specs: readonly string[]): { network: 'user' | 'none'; taps: TapRequest[] } {
  let network: 'user' | 'none' | undefined;
  const taps: TapRequest[] = [];
  for (const spec of specs) {
    if (spec === 'user' || spec === 'none') {
      if (network && network !== spec) throw new KilnError(ErrorCodes.USAGE, '--net user and --net none contradict each other');
      network = spec;
      continue;
    }
    const match = spec.match(/^tap:([A-Za-z0-9_.-]{1,15})((?:,[^,]+)*)$/);
    if (!match) {
      throw new KilnError(ErrorCodes.USAGE, `unknown network "${spec}"`, {
        hint: 'use --net user, --net none or --net tap:IFNAME[,ip=10.0.0.5/24,gw=10.0.0.1|,dhcp]',
      });
    }
    const tap: TapRequest = { ifname: match[1]! };
    for (const option of match[2]!.split(',').slice(1)) {
      const [key, value] = option.split('=', 2) as [string, string | undefined];
      if (key === 'ip' && value) tap.address = value;
      else if (key === 'gw' && value) tap.gateway = value;
      else if (key === 'mtu' && value && /^\d+$/.test(value)) tap.mtu = Number(value);
      else if (key === 'dhcp' && value === undefined) tap.dhcp = true;
      else throw new KilnError(ErrorCodes.USAGE, `unknown option "${option}" in --net ${spec}`, { hint: 'tap options: ip=ADDR/LEN, gw=ADDR, mtu=N, dhcp' });
    }
    taps.push(tap);
  }
  // A tap alone means a real network: no user-mode NIC unless asked for as well.
  return { network: network ?? (taps.length > 0 ? 'none' : 'user'), taps };
}

/** `--ip/--gw/--dhcp` are shorthands for the first tap's settings. */
export function applyFirstTapFlags(taps: TapRequest[], flags: { ip?: string; gw?: string; dhcp?: boolean }): void {
  const first = taps[0];
  const any = flags.ip !== undefined || flags.gw !== undefined || flags.dhcp === true;
  if (any && !first) throw new KilnError(ErrorCodes.USAGE, '--ip, --gw and --dhcp configure a tap interface, but no --net tap:IFNAME was given');
  if (first && flags.ip !== undefined) first.address = flags.ip;
  if (first && flags.gw !== undefined) first.gateway = flags.gw;
  if (first && flags.dhcp) first.dhcp = true;
  for (const tap of taps) {
    if (tap.dhcp === undefined && tap.address === undefined) {
      throw new KilnError(ErrorCodes.USAGE, `tap ${tap.ifname} has neither an address nor dhcp`, { hint: `add ,ip=ADDR/LEN or ,dhcp to --net tap:${tap.ifname}` });
    }
  }
}

/** `--restart no|on-failure[:N]`. */
export function parseRestart(text: string): RestartPolicy {
  const match = text.match(/^(no|on-failure)(?::(\d+))?$/);
  if (!match || (match[1] === 'no' && match[2] !== undefined)) {
    throw new KilnError(ErrorCodes.USAGE, `invalid restart policy "${text}"`, { hint: 'use --restart no, on-failure or on-failure:N' });
  }
  return { policy: match[1] as 'no' | 'on-failure', ...(match[2] !== undefined ? { maxRetries: Number(match[2]) } : {}) };
}
