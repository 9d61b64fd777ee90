import { KilnError, ErrorCodes } from '../errors.js';
import type { Credential } from './credentials.js';
import { header, type HttpResponse, type Transport } from './transport.js';
import { isLoopbackRegistry } from './reference.js';

/**
 * The registry's authentication dance: a request goes out anonymously (or with what the last
 * challenge asked for); a 401 carries a `WWW-Authenticate` challenge, `Basic` (send the
 * credential) or `Bearer realm=…,service=…,scope=…` (get a token from the realm, with the
 * credential when there is one, and send it). Tokens are kept per scope for this client's life.
 */
export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `Bearer realm="https://…",service="…",scope="a,b"` (quoted values may hold commas). */
export function parseChallenge(value: string): Challenge | undefined {
  const match = value.match(/^\s*(\w+)\s*(.*)$/s);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const pattern = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g;
  for (const part of match[2]!.matchAll(pattern)) params[part[1]!.toLowerCase()] = (part[2] ?? part[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme, params };
}

export class Authenticator {
  private basic = false;
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, string>();

  constructor(
    private readonly transport: Transport,
    private readonly credential: () => Promise<Credential | undefined>,
  ) {}

  /** The Authorization header to send for this scope now, if the registry has asked for one. */
  async authorization(scope: string): Promise<string | undefined> {
    if (this.basic) {
      const credential = await this.credential();
      return credential ? basicHeader(credential) : undefined;
    }
    const token = this.tokens.get(scope);
    return token ? `Bearer ${token}` : undefined;
  }

  /**
   * Handles a 401: learns the challenge and prepares what the next try sends. Returns false
   * when nothing new can be tried (then the caller reports the refusal).
   */
  async answer(response: HttpResponse, scope: string, hadAuthorization: boolean): Promise<boolean> {
    const value = header(response, 'www-authenticate');
    const challenge = value ? parseChallenge(value) : undefined;
    if (!challenge) return false;
    this.challenge = challenge;
    if (challenge.scheme === 'basic') {
      if (this.basic && hadAuthorization) return false;
      this.basic = (await this.credential()) !== undefined;
      return this.basic;
    }
    if (hadAuthorization && this.tokens.has(scope)) return false;
    this.tokens.set(scope, await this.fetchToken(challenge, scope));
    return true;
  }

  private async fetchToken(challenge: Challenge, scope: string): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new KilnError(ErrorCodes.REGISTRY_ERROR, `registry ${this.transport.registry} sent a Bearer challenge without a realm`);
    const url = new URL(realm);
    // Credentials go to a token service only over TLS, or on this machine.
    const credential = url.protocol === 'https:' || isLoopbackRegistry(url.host) || url.origin === this.transport.origin ? await this.credential() : undefined;
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const one of scope.split(' ')) url.searchParams.append('scope', one);
    const response = await this.transport.send({ method: 'GET', url: url.toString(), headers: credential ? { authorization: basicHeader(credential) } : {} });
    const text = await response.body.text();
    if (response.status === 401 || response.status === 403) {
      throw new KilnError(ErrorCodes.REGISTRY_AUTH_FAILED, `registry ${this.transport.registry}: the token service refused ${credential ? `the credentials of ${credential.username}` : 'anonymous access'} (HTTP ${response.status})`, {
        hint: credential ? `check the password, then kiln login ${this.transport.registry}` : `kiln login ${this.transport.registry} -u USER --password-stdin`,
      });
    }
    if (response.status !== 200) throw new KilnError(ErrorCodes.REGISTRY_ERROR, `registry ${this.transport.registry}: token service answered HTTP ${response.status}`, { details: [text.slice(0, 400)] });
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (error) {
      throw new KilnError(ErrorCodes.REGISTRY_ERROR, `registry ${this.transport.registry}: the token service's answer is not JSON`, { cause: error });
    }
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new KilnError(ErrorCodes.REGISTRY_ERROR, `registry ${this.transport.registry}: the token service's answer has no token`);
    return token;
  }

  /** What kind of authentication the registry asked for last (for messages). */
  get lastChallenge(): Challenge | undefined {
    return this.challenge;
  }
}

function basicHeader(credential: Credential): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
}
