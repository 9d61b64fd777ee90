import type { KilnEvent, Reporter } from '../events.js';
import { ErrorCodes, isKilnError } from '../errors.js';
import { describeExit } from '../launch/status.js';

export type OutputMode = 'plain' | 'json' | 'quiet';

/**
 * Turns library events into what a person (or a program, with --json) reads on stderr.
 * stdout is left to the guest console so an app's output can be piped untouched.
 */
export function createRenderer(mode: OutputMode, stream: NodeJS.WritableStream = process.stderr): Reporter {
  return {
    emit(event: KilnEvent) {
      if (mode === 'json') {
        stream.write(JSON.stringify(event) + '\n');
        return;
      }
      const line = plainLine(event, mode);
      if (line) stream.write(`kiln: ${line}\n`);
    },
  };
}

function plainLine(event: KilnEvent, mode: OutputMode): string | undefined {
  if (mode === 'quiet' && event.type !== 'warning') return undefined;
  switch (event.type) {
    case 'step':
      return event.message;
    case 'info':
      return event.message;
    case 'warning':
      return `warning ${event.code}: ${event.message}${event.hint ? ` (${event.hint})` : ''}`;
    case 'cache':
      return event.hit ? `${event.what}: cached (${event.key.slice(0, 12)})` : undefined;
    case 'download':
      return `downloading ${event.what}${event.bytes ? ` (${(event.bytes / 1048576).toFixed(1)} MB)` : ''}`;
    case 'accel':
      return `accelerator ${event.accel}: ${event.reason}${event.cached ? ' (cached probe)' : ''}`;
    case 'vm-started':
      return undefined;
    case 'vm-exited':
      return event.status.kind === 'exited' && event.status.code === 0 ? undefined : describeExit(event.status);
  }
}

/** The CLI's single error boundary: a coded message, its details and a hint. */
export function renderError(error: unknown, mode: OutputMode, stream: NodeJS.WritableStream = process.stderr): void {
  if (mode === 'json') {
    const body = isKilnError(error) ? error.toJSON() : { code: ErrorCodes.INTERNAL, message: String((error as Error)?.message ?? error) };
    stream.write(JSON.stringify({ type: 'error', ...body }) + '\n');
    return;
  }
  if (isKilnError(error)) {
    stream.write(`kiln: error ${error.code}: ${error.message}\n`);
    for (const detail of error.details) stream.write(`  ${detail}\n`);
    if (error.hint) stream.write(`  hint: ${error.hint}\n`);
    return;
  }
  stream.write(`kiln: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  stream.write('  hint: this is a bug in kiln; please report it with the command you ran\n');
}
