import type { ErrorCode } from './errors.js';

/**
 * Domain code never prints: it emits typed events to a Reporter, and only the CLI decides
 * how they look (plain lines, or NDJSON with --json). Library users pass their own Reporter.
 */
export type KilnEvent =
  | { type: 'step'; step: string; message: string }
  | { type: 'info'; message: string }
  | { type: 'warning'; code: ErrorCode; message: string; hint?: string }
  | { type: 'cache'; what: string; hit: boolean; key: string }
  | { type: 'download'; what: string; bytes?: number }
  | { type: 'accel'; accel: 'kvm' | 'tcg'; reason: string; cached: boolean }
  /**
   * The VM is starting: the process that runs it (QEMU, or xl for a Xen domain) and how to reach
   * it, as values (a detached instance's supervisor records them; nothing parses argv back).
   */
  | { type: 'vm-started'; pid: number; argv: string[]; qmpSocket?: string; domain?: string }
  | { type: 'vm-exited'; status: ExitReport };

/** What the guest (or QEMU) told us about how the app ended. */
export type ExitReport =
  | { kind: 'exited'; code: number }
  | { kind: 'signaled'; signal: string; number: number }
  | { kind: 'init-error'; message: string }
  | { kind: 'crashed'; message: string }
  | { kind: 'timeout'; seconds: number }
  | { kind: 'stopped'; forced: boolean };

export interface Reporter {
  emit(event: KilnEvent): void;
}

export const silentReporter: Reporter = { emit: () => {} };

/** Collects events in memory: handy for library users and tests. */
export class MemoryReporter implements Reporter {
  readonly events: KilnEvent[] = [];
  emit(event: KilnEvent): void {
    this.events.push(event);
  }
}
