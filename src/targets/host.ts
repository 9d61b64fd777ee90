import { readFile } from 'node:fs/promises';

/**
 * The host's TSC frequency in kHz, or undefined when it cannot be told. Read from
 * /proc/cpuinfo's "cpu MHz", which on CPUs with constant_tsc (every x86_64 host QEMU runs on
 * today) is the frequency the kernel calibrated the TSC at. Unprivileged: no dmesg, no MSRs.
 */
export async function hostTscKhz(cpuinfoPath = '/proc/cpuinfo'): Promise<number | undefined> {
  const text = await readFile(cpuinfoPath, 'utf8').catch(() => '');
  return parseTscKhz(text);
}

export function parseTscKhz(cpuinfo: string): number | undefined {
  if (!/^flags\s*:.*\bconstant_tsc\b/m.test(cpuinfo)) return undefined;
  const mhz = Number(cpuinfo.match(/^cpu MHz\s*:\s*([\d.]+)/m)?.[1]);
  return Number.isFinite(mhz) && mhz > 100 ? Math.round(mhz * 1000) : undefined;
}
