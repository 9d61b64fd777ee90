import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KilnError, ErrorCodes } from '../errors.js';
import { run } from '../util/exec.js';
import { writeFileAtomically } from '../util/fs.js';

/**
 * Registry credentials in docker's config.json format, so `docker login`, `podman login
 * --authfile` and `kiln login` share them: `auths[HOST].auth` (base64 "user:password"),
 * `credHelpers[HOST]` and `credsStore` naming a `docker-credential-NAME` program that speaks
 * the helper protocol (`get`/`store`/`erase` on stdin/stdout).
 */
export interface Credential {
  username: string;
  password: string;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [key: string]: unknown;
}

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` (docker's own rule). */
export function dockerConfigPath(env: NodeJS.ProcessEnv): string {
  return join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
}

async function readConfig(path: string): Promise<DockerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as DockerConfig;
  } catch (error) {
    throw new KilnError(ErrorCodes.REGISTRY_AUTH_FAILED, `${path} is not a valid docker config file`, { cause: error, hint: 'fix or remove it, then kiln login again' });
  }
}

/** The keys docker accepts for one registry in `auths` (plain host, or an https:// URL form). */
function authKeys(registry: string): string[] {
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

function helperFor(config: DockerConfig, registry: string): string | undefined {
  return config.credHelpers?.[registry] ?? config.credsStore;
}

async function helperGet(helper: string, registry: string, env: NodeJS.ProcessEnv): Promise<Credential | undefined> {
  const program = `docker-credential-${helper}`;
  const result = await run(program, ['get'], { input: registry, env, check: false });
  if (result.code !== 0) {
    // The protocol's "not found" answer is a failure whose output says so.
    if (/credentials not found/i.test(result.stdout + result.stderr)) return undefined;
    throw new KilnError(ErrorCodes.CREDENTIAL_HELPER_FAILED, `${program} get failed for ${registry} (exit ${result.code})`, {
      details: [result.stderr.trim() || result.stdout.trim()].filter(Boolean),
      hint: `check the helper named in the docker config (credHelpers / credsStore)`,
    });
  }
  try {
    const answer = JSON.parse(result.stdout) as { Username?: unknown; Secret?: unknown };
    if (typeof answer.Username !== 'string' || typeof answer.Secret !== 'string') throw new Error('Username and Secret must be strings');
    return { username: answer.Username, password: answer.Secret };
  } catch (error) {
    throw new KilnError(ErrorCodes.CREDENTIAL_HELPER_FAILED, `${program} get printed something that is not a credential`, { cause: error });
  }
}

/** The stored credential for a registry, or undefined for anonymous access. */
export async function findCredential(registry: string, env: NodeJS.ProcessEnv): Promise<Credential | undefined> {
  const config = await readConfig(dockerConfigPath(env));
  const helper = helperFor(config, registry);
  if (helper) {
    const found = await helperGet(helper, registry, env);
    if (found) return found;
  }
  for (const key of authKeys(registry)) {
    const entry = config.auths?.[key];
    if (!entry) continue;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/**
 * Records a credential: through the registry's helper when the config names one, otherwise in
 * `auths` (the file is rewritten atomically, other keys kept, mode 0600).
 */
export async function storeCredential(registry: string, credential: Credential, env: NodeJS.ProcessEnv): Promise<{ where: string }> {
  const path = dockerConfigPath(env);
  const config = await readConfig(path);
  const helper = helperFor(config, registry);
  if (helper) {
    const program = `docker-credential-${helper}`;
    const input = JSON.stringify({ ServerURL: registry, Username: credential.username, Secret: credential.password });
    const result = await run(program, ['store'], { input, env, check: false });
    if (result.code !== 0) {
      throw new KilnError(ErrorCodes.CREDENTIAL_HELPER_FAILED, `${program} store failed for ${registry} (exit ${result.code})`, { details: [result.stderr.trim()].filter(Boolean) });
    }
    return { where: program };
  }
  const auths = { ...(config.auths ?? {}) };
  auths[registry] = { auth: Buffer.from(`${credential.username}:${credential.password}`).toString('base64') };
  await writeFileAtomically(path, JSON.stringify({ ...config, auths }, null, 2) + '\n', 0o600);
  return { where: path };
}

/** Forgets a registry's credential (kiln logout). */
export async function eraseCredential(registry: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const path = dockerConfigPath(env);
  const config = await readConfig(path);
  const helper = helperFor(config, registry);
  if (helper) {
    const result = await run(`docker-credential-${helper}`, ['erase'], { input: registry, env, check: false });
    return result.code === 0;
  }
  const auths = { ...(config.auths ?? {}) };
  const had = authKeys(registry).some((key) => key in auths);
  for (const key of authKeys(registry)) delete auths[key];
  if (had) await writeFileAtomically(path, JSON.stringify({ ...config, auths }, null, 2) + '\n', 0o600);
  return had;
}
