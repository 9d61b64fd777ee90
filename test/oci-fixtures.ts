import { createServer, request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import { bake } from '../src/bake/index.js';
import type { Context } from '../src/context.js';
import { qemuTarget } from '../src/targets/registry.js';
import { buildC, tempDir } from './helpers.js';

/** The hello example baked for qemu (cached in the shared test cache after the first time). */
export async function bakeHello(ctx: Context, name = 'hello.img'): Promise<string> {
  const work = await tempDir('kiln-oci-');
  const app = await buildC(ctx, join(process.cwd(), 'examples/hello/hello.c'), work, 'hello');
  const image = await bake(ctx, { appPath: app, target: qemuTarget, supply: { app: { version: '1.0.0', license: 'MIT' } } }, join(work, name));
  return image.dir;
}

/**
 * A fault-injecting HTTP proxy in front of a test registry (loopback only): `plan` decides per
 * request whether to pass it on, answer 503, or cut the connection. It stands for the slow,
 * failing and resetting registries of the bad-input list; the registry behind it is real.
 */
export interface FaultProxy {
  host: string;
  requests: number;
  close(): Promise<void>;
}

export type Fault = 'pass' | '503' | 'reset';

export async function startFaultProxy(target: number, plan: (n: number, method: string, url: string) => Fault): Promise<FaultProxy> {
  const state = { requests: 0 };
  const server: Server = createServer((req, res) => {
    const n = ++state.requests;
    const fault = plan(n, req.method ?? 'GET', req.url ?? '/');
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === '503') {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"injected by the test"}]}');
      return;
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${target}` } }, (answer) => {
      const headers = { ...answer.headers };
      // Upload locations name the registry's own port; the client must keep talking to the proxy.
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`127.0.0.1:${target}`, `127.0.0.1:${(server.address() as { port: number }).port}`);
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
