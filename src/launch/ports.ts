import { createServer } from 'node:net';
import { KilnError, ErrorCodes } from '../errors.js';
import type { HostForward } from '../targets/qemu/options.js';

/**
 * Parses docker-style `-p [ADDR:]HOST:GUEST[/tcp|/udp]`. Without ADDR the port is bound to
 * 127.0.0.1 only: nothing listens beyond loopback unless the user names an address.
 */
export function parsePortMapping(spec: string): HostForward {
  const match = spec.match(/^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|localhost):)?(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/);
  const bad = (why: string) =>
    new KilnError(ErrorCodes.USAGE, `invalid port mapping "${spec}": ${why}`, { hint: 'use -p HOST:GUEST, -p ADDR:HOST:GUEST or -p HOST:GUEST/udp, e.g. -p 8080:80' });
  if (!match) throw bad('expected [ADDR:]HOST:GUEST[/udp]');
  const [, address, host, guest, protocol] = match;
  const hostPort = Number(host);
  const guestPort = Number(guest);
  for (const [name, port] of [['host', hostPort], ['guest', guestPort]] as const) {
    if (port < 1 || port > 65535) throw bad(`${name} port ${port} is outside 1-65535`);
  }
  if (address && /^\d/.test(address) && address.split('.').some((octet) => Number(octet) > 255)) throw bad(`${address} is not an IPv4 address`);
  return {
    protocol: (protocol as 'tcp' | 'udp' | undefined) ?? 'tcp',
    hostAddress: address === undefined || address === 'localhost' ? '127.0.0.1' : address.replace(/^\[|\]$/g, ''),
    hostPort,
    guestPort,
  };
}

/** Fails early, with the port named, when a host port is already taken. */
export async function assertPortsFree(forwards: readonly HostForward[]): Promise<void> {
  for (const forward of forwards) {
    if (forward.protocol !== 'tcp') continue;
    await new Promise<void>((resolve, reject) => {
      const server = createServer();
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new KilnError(ErrorCodes.PORT_IN_USE, `host port ${forward.hostAddress}:${forward.hostPort} is not available (${error.code})`, {
            hint: 'pick another host port with -p HOST:GUEST, or stop what is listening there',
            cause: error,
          }),
        ),
      );
      server.listen({ host: forward.hostAddress, port: forward.hostPort, exclusive: true }, () => server.close(() => resolve()));
    });
  }
  const seen = new Set<string>();
  for (const forward of forwards) {
    const key = `${forward.protocol}:${forward.hostAddress}:${forward.hostPort}`;
    if (seen.has(key)) throw new KilnError(ErrorCodes.USAGE, `host port ${forward.hostPort}/${forward.protocol} is mapped twice`);
    seen.add(key);
  }
}

/** A TCP port on 127.0.0.1 that is free right now (for tests, demos and benchmarks). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
