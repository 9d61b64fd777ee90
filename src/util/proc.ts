import { readFileSync } from 'node:fs';

/**
 * A process named by pid and its start time (clock ticks since boot, field 22 of
 * /proc/PID/stat). A pid alone can be reused by an unrelated process after ours exits; the
 * pair cannot, so every pid kiln stores on disk is stored with its start time.
 */
export interface ProcessRef {
  pid: number;
  start: number;
}

export function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    if (state === 'Z' || state === 'X') return undefined; // a zombie has already exited
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

export function selfRef(): ProcessRef {
  return { pid: process.pid, start: processStart(process.pid) ?? 0 };
}

export function refOf(pid: number): ProcessRef | undefined {
  const start = processStart(pid);
  return start === undefined ? undefined : { pid, start };
}

export function isAlive(ref: ProcessRef | undefined): boolean {
  if (!ref) return false;
  return processStart(ref.pid) === ref.start;
}

/** Sends a signal only if the process is still the one recorded; says whether it was sent. */
export function signalIfAlive(ref: ProcessRef | undefined, signal: NodeJS.Signals): boolean {
  if (!ref || !isAlive(ref)) return false;
  try {
    process.kill(ref.pid, signal);
    return true;
  } catch {
    return false;
  }
}
