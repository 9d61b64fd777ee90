import type { ExitReport } from '../events.js';

/** What the shim wrote on the status channel (docs/guest-contract.md). */
export interface GuestStatus {
  started: boolean;
  exit?: ExitReport;
}

export function parseStatus(text: string): GuestStatus {
  const status: GuestStatus = { started: false };
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line === 'KILN-START') status.started = true;
    if (!line.startsWith('KILN-EXIT ')) continue;
    const rest = line.slice('KILN-EXIT '.length);
    let match: RegExpMatchArray | null;
    if ((match = rest.match(/^code=(\d+)$/))) status.exit = { kind: 'exited', code: Number(match[1]) };
    else if ((match = rest.match(/^signal=(\S+) number=(\d+)$/))) {
      status.exit = { kind: 'signaled', signal: match[1]!, number: Number(match[2]) };
    } else if (rest.startsWith('init-error=')) status.exit = { kind: 'init-error', message: rest.slice('init-error='.length) };
  }
  return status;
}

/**
 * The process exit status `kiln launch` returns for a report, following shell conventions:
 * the app's own code; 128+N for a signal; 124 for a timeout (as timeout(1)); 126 when the
 * app could not be started; 125 when the VM itself failed (as docker run does).
 */
export function exitCodeFor(report: ExitReport): number {
  switch (report.kind) {
    case 'exited':
      return report.code;
    case 'signaled':
      return 128 + report.number;
    case 'timeout':
      return 124;
    case 'init-error':
      return 126;
    case 'crashed':
      return 125;
    case 'stopped':
      return 143;
  }
}

export function describeExit(report: ExitReport): string {
  switch (report.kind) {
    case 'exited':
      return `app exited with status ${report.code}`;
    case 'signaled':
      return `app was killed by ${report.signal} (signal ${report.number})`;
    case 'timeout':
      return `stopped after the ${report.seconds}s timeout`;
    case 'init-error':
      return `the app could not be started: ${report.message}`;
    case 'crashed':
      return `the VM ended without a report from the guest: ${report.message}`;
    case 'stopped':
      return report.forced ? 'the VM was killed after the stop timeout' : 'the VM was stopped';
  }
}

/** How a host process ended, as Node reports it: an exit status, or the signal that killed it. */
export interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * "QEMU exited with status 1", "QEMU was killed by SIGABRT". Node gives a null status for a
 * process killed by a signal, so the signal has to be named instead: "status null" tells nobody
 * anything.
 */
export function describeProcessEnd(name: string, end: ProcessEnd): string {
  if (end.signal) return `${name} was killed by ${end.signal}`;
  if (end.code === null) return `${name} ended without an exit status`;
  return `${name} exited with status ${end.code}`;
}

/**
 * QEMU's own words when it could not run a guest under KVM, or undefined when its stderr says
 * nothing about KVM. It covers a missing or unopenable device ("Could not access KVM kernel
 * module", "failed to initialize kvm"), a KVM that fails mid-run ("KVM internal error") and a
 * KVM that refuses the vCPU's set-up, as nested-virtualisation stand-ins do ("failed to set MSR
 * 0x10a to 0x69" followed by a `kvm_buf_set_msrs` assertion and SIGABRT). Lines are kept in
 * order, without QEMU's program-name prefix.
 */
export function kvmFailureReason(stderr: string): string | undefined {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /\bkvm|\bMSR\b/i.test(line))
    .map((line) => line.replace(/^\S*qemu[\w.-]*:\s*/, '').replace(/^error:\s*/, ''));
  const unique = [...new Set(lines)].slice(-4);
  return unique.length > 0 ? unique.join('; ') : undefined;
}
