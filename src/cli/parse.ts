import { KilnError, ErrorCodes } from '../errors.js';

/** `-m 128M`, `-m 1G`, `-m 96` (MiB) → MiB. */
export function parseMemory(text: string): number {
  const match = text.trim().match(/^(\d+)\s*([MmGg])?(?:i?[Bb])?$/);
  if (!match) throw new KilnError(ErrorCodes.USAGE, `invalid memory size "${text}"`, { hint: 'use a size like 128M or 1G' });
  const value = Number(match[1]);
  return match[2]?.toUpperCase() === 'G' ? value * 1024 : value;
}

/** `-e K=V` (or `-e K` to take K from kiln's own environment, as docker does). */
export function parseEnvAssignments(items: readonly string[], hostEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new KilnError(ErrorCodes.USAGE, `invalid environment assignment "${item}"`, { hint: 'use -e NAME=value; NAME is letters, digits and _' });
    }
    if (eq >= 0) env[name] = item.slice(eq + 1);
    else if (hostEnv[name] !== undefined) env[name] = hostEnv[name]!;
  }
  return env;
}

export function parsePositiveInt(text: string, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new KilnError(ErrorCodes.USAGE, `${what} must be a positive whole number, not "${text}"`);
  return Number(text);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
