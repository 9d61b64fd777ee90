import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runKiln, tempDir, testContext } from '../helpers.js';
import { startRegistry, type TestRegistry } from '../registry.js';
import { bakeHello } from '../oci-fixtures.js';

/**
 * Credentials and TLS against Debian's docker-registry: htpasswd basic auth (kiln login, the
 * docker config.json, a docker-credential-* helper), and TLS with a test CA made by openssl
 * (--ca-cert). The registry is real; the credential helper is a small program speaking the
 * helper protocol (Debian ships none that runs without a desktop keyring).
 */
const { ctx } = testContext();
let basic: TestRegistry;
let tls: TestRegistry;
let helloDir: string;

before(async () => {
  basic = await startRegistry({ auth: { username: 'me', password: 'right horse' } });
  tls = await startRegistry({ tls: true });
  helloDir = await bakeHello(ctx);
});
after(async () => {
  await basic?.stop();
  await tls?.stop();
});

async function dockerConfigDir(): Promise<string> {
  return tempDir('kiln-docker-config-');
}

test('basic auth: anonymous and wrong credentials are refused with codes; kiln login stores a working credential', async () => {
  const config = await dockerConfigDir();
  const env = { DOCKER_CONFIG: config };
  const anonymous = await runKiln(['push', helloDir, `${basic.host}/me/hello:1`], { env });
  assert.equal(anonymous.code, 125);
  assert.match(anonymous.stderr, /KILN_REGISTRY_AUTH_FAILED: registry 127\.0\.0\.1:\d+ wants credentials and none are stored for it/);
  const wrong = await runKiln(['login', basic.host, '-u', 'me', '--password-stdin'], { env, input: 'wrong horse' });
  assert.equal(wrong.code, 125);
  assert.match(wrong.stderr, /KILN_REGISTRY_AUTH_FAILED: registry .* refused the credentials/);
  const right = await runKiln(['login', basic.host, '-u', 'me', '--password-stdin'], { env, input: 'right horse\n' });
  assert.equal(right.code, 0, right.stderr);
  const stored = JSON.parse(await readFile(join(config, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(stored.auths[basic.host]!.auth, 'base64').toString(), 'me:right horse');
  const pushed = await runKiln(['push', helloDir, `${basic.host}/me/hello:1`], { env });
  assert.equal(pushed.code, 0, pushed.stderr);
  const pulled = await runKiln(['pull', `${basic.host}/me/hello@${pushed.stdout.trim()}`], { env: { ...env, KILN_CACHE_DIR: await tempDir('kiln-oci-cache-') } });
  assert.equal(pulled.code, 0, pulled.stderr);
  const out = await runKiln(['logout', basic.host], { env });
  assert.equal(out.code, 0);
  const after = JSON.parse(await readFile(join(config, 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
  assert.equal(after.auths[basic.host], undefined);
});

test('a docker-credential-* helper named in credHelpers supplies the credential', async () => {
  const config = await dockerConfigDir();
  const bin = await tempDir('kiln-helper-bin-');
  const helper = join(bin, 'docker-credential-kilntest');
  // The helper protocol: `get` reads the server URL on stdin, prints {"Username","Secret"}.
  await writeFile(helper, `#!/bin/sh\nread server\nif [ "$1" = get ] && [ "$server" = "${basic.host}" ]; then printf '{"ServerURL":"%s","Username":"me","Secret":"right horse"}' "$server"; exit 0; fi\necho "credentials not found in native keychain"; exit 1\n`);
  await chmod(helper, 0o755);
  await mkdir(config, { recursive: true });
  await writeFile(join(config, 'config.json'), JSON.stringify({ credHelpers: { [basic.host]: 'kilntest' } }));
  const env = { DOCKER_CONFIG: config, PATH: `${bin}:${process.env.PATH}` };
  const pushed = await runKiln(['push', helloDir, `${basic.host}/me/helper:1`], { env });
  assert.equal(pushed.code, 0, pushed.stderr);
  await writeFile(join(config, 'config.json'), JSON.stringify({ credHelpers: { [basic.host]: 'missing-helper' } }));
  const missing = await runKiln(['push', helloDir, `${basic.host}/me/helper:1`], { env });
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /KILN_TOOL_MISSING|KILN_CREDENTIAL_HELPER_FAILED/);
});

test('TLS: an unknown CA is refused with a hint; --ca-cert trusts the test CA; --insecure is plain HTTP for that registry only', async () => {
  const untrusted = await runKiln(['push', helloDir, `${tls.host}/me/tls:1`]);
  assert.equal(untrusted.code, 125);
  assert.match(untrusted.stderr, /KILN_REGISTRY_UNREACHABLE: registry 127\.0\.0\.1:\d+: its TLS certificate is not trusted/);
  assert.match(untrusted.stderr, /--ca-cert/);
  const trusted = await runKiln(['push', helloDir, `${tls.host}/me/tls:1`, '--ca-cert', tls.caFile!]);
  assert.equal(trusted.code, 0, trusted.stderr);
  const pulled = await runKiln(['pull', `${tls.host}/me/tls@${trusted.stdout.trim()}`, '--ca-cert', tls.caFile!], { env: { KILN_CACHE_DIR: await tempDir('kiln-oci-cache-') } });
  assert.equal(pulled.code, 0, pulled.stderr);
  // --insecure means plain HTTP: a TLS-only registry does not answer it.
  const insecure = await runKiln(['push', helloDir, `${tls.host}/me/tls:1`, '--insecure']);
  assert.equal(insecure.code, 125);
  assert.match(insecure.stderr, /KILN_REGISTRY_(ERROR|UNREACHABLE)/);
});

test('bearer tokens: the registry challenges, the token service grants pull anonymously and push with the credential', async () => {
  const token = await startRegistry({ token: { username: 'me', password: 'token horse' } });
  try {
    const config = await dockerConfigDir();
    const env = { DOCKER_CONFIG: config };
    const anonymous = await runKiln(['push', helloDir, `${token.host}/me/bearer:1`], { env });
    assert.equal(anonymous.code, 125);
    assert.match(anonymous.stderr, /KILN_REGISTRY_AUTH_FAILED/);
    const wrong = await runKiln(['login', token.host, '-u', 'me', '--password-stdin'], { env, input: 'wrong' });
    assert.match(wrong.stderr, /KILN_REGISTRY_AUTH_FAILED: registry .*token service refused the credentials of me/);
    const login = await runKiln(['login', token.host, '-u', 'me', '--password-stdin'], { env, input: 'token horse' });
    assert.equal(login.code, 0, login.stderr);
    const pushed = await runKiln(['push', helloDir, `${token.host}/me/bearer:1`], { env });
    assert.equal(pushed.code, 0, pushed.stderr);
    // Anonymous pull: the token service grants pull without a credential.
    const pulled = await runKiln(['pull', `${token.host}/me/bearer@${pushed.stdout.trim()}`], { env: { DOCKER_CONFIG: await dockerConfigDir(), KILN_CACHE_DIR: await tempDir('kiln-oci-cache-') } });
    assert.equal(pulled.code, 0, pulled.stderr);
  } finally {
    await token.stop();
  }
});
