import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { findFreePort } from '../src/launch/ports.js';
import { tempDir } from './helpers.js';

/**
 * Debian's docker-registry (distribution 2.8.2) started for a test on a free loopback port,
 * with its storage in a temporary directory: plain HTTP, htpasswd basic auth, or TLS with a
 * test CA made by openssl. Every registry a test starts is stopped by its PID.
 */
export interface TestRegistry {
  /** `127.0.0.1:PORT`, as a reference names it. */
  host: string;
  port: number;
  pid: number;
  storage: string;
  /** The CA that signed the server certificate (TLS registries only). */
  caFile?: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** htpasswd basic auth. */
  auth?: { username: string; password: string };
  /** Token auth: a token service (in this process) answers the registry's Bearer challenge, granting push only with this credential. */
  token?: { username: string; password: string };
  tls?: boolean;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) if (child.pid) process.kill(child.pid, 'SIGKILL');
});

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await tempDir('kiln-registry-');
  const storage = join(dir, 'storage');
  await mkdir(storage);
  const port = await findFreePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  let caFile: string | undefined;
  if (options.tls) {
    const pki = makeTestPki(dir);
    caFile = pki.ca;
    lines.push('  tls:', `    certificate: ${pki.cert}`, `    key: ${pki.key}`);
  }
  if (options.auth) {
    const entry = execFileSync('htpasswd', ['-Bbn', options.auth.username, options.auth.password], { encoding: 'utf8' }).trim();
    await writeFile(join(dir, 'htpasswd'), entry + '\n');
    lines.push('auth:', '  htpasswd:', '    realm: kiln-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  let tokenServer: Server | undefined;
  if (options.token) {
    const pki = makeTestPki(dir, 'token-');
    tokenServer = await startTokenService(pki, options.token);
    const address = tokenServer.address() as AddressInfo;
    lines.push('auth:', '  token:', `    realm: http://127.0.0.1:${address.port}/token`, '    service: kiln-test-registry', '    issuer: kiln-test-issuer', `    rootcertbundle: ${pki.ca}`);
  }
  const config = join(dir, 'config.yml');
  await writeFile(config, lines.join('\n') + '\n');
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    if (await answers(port, options.tls === true)) break;
    if (i > 200) throw new Error(`docker-registry did not answer on port ${port}: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    storage,
    ...(caFile ? { caFile } : {}),
    async stop() {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
      await exited;
      running.delete(child);
      if (tokenServer) await new Promise<void>((resolve) => tokenServer!.close(() => resolve()));
    },
  };
}

function answers(port: number, tls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const send = tls ? httpsRequest : request;
    const req = send({ host: '127.0.0.1', port, path: '/v2/', method: 'GET', rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** A test CA and a server certificate for 127.0.0.1 and localhost, made with openssl. */
export function makeTestPki(dir: string, prefix = ''): { ca: string; caKey: string; cert: string; key: string } {
  const path = (name: string) => join(dir, prefix + name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path('ca.key'), '-out', path('ca.pem'), '-days', '2', '-subj', '/CN=kiln test CA');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(path('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial', '-out', path('server.pem'), '-days', '2', '-extfile', path('san.ext'));
  return { ca: path('ca.pem'), caKey: path('ca.key'), cert: path('server.pem'), key: path('server.key') };
}

/**
 * The token service of distribution's token auth, as small as the spec allows: it checks the
 * basic credential, and grants the asked repository actions (only pull without the credential)
 * in an ES256 JWT signed by the test CA's key, with the CA certificate in x5c (the registry
 * trusts it through rootcertbundle).
 */
async function startTokenService(pki: { ca: string; caKey: string }, credential: { username: string; password: string }): Promise<Server> {
  const caDer = new X509Certificate(readFileSync(pki.ca)).raw.toString('base64');
  const key = createPrivateKey(readFileSync(pki.caKey));
  const b64 = (value: Buffer | string) => Buffer.from(value).toString('base64url');
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const auth = req.headers.authorization ?? '';
    const given = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : undefined;
    if (given !== undefined && given !== `${credential.username}:${credential.password}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"details":"wrong credentials"}');
      return;
    }
    const access = url.searchParams.getAll('scope').flatMap((scope) => {
      const [type, name, actions] = scope.split(':');
      if (type !== 'repository' || !name || !actions) return [];
      return [{ type, name, actions: actions.split(',').filter((action) => given !== undefined || action === 'pull') }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [caDer] }));
    const claims = b64(JSON.stringify({ iss: 'kiln-test-issuer', sub: given ? credential.username : '', aud: url.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `${header}.${claims}.${b64(signature)}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
