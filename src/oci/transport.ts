import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { KilnError, ErrorCodes } from '../errors.js';
import { isLoopbackRegistry } from './reference.js';

/**
 * How kiln talks to one registry over HTTP: which scheme, which CA, how long to wait, and the
 * retry rule (bounded attempts with doubling back-off on connection errors, resets, 5xx and 429).
 * The registry client (client.ts) adds the distribution protocol and authentication on top.
 */
export interface TransportOptions {
  /** Registries (HOST[:PORT]) that may be spoken to over plain HTTP: `--insecure`, only for the registry of that command. */
  insecure?: readonly string[];
  /** PEM text of CA certificates trusted in addition to the system's (`--ca-cert`). */
  caCert?: string;
  /** Attempts per request (default 4) and the first back-off (default 250 ms, doubling). */
  attempts?: number;
  backoffMs?: number;
  /** How long to wait for a response's headers, and between two body chunks (default 60 s). */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  url: string;
}

export interface HttpRequest {
  method: Dispatcher.HttpMethod;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** One attempt only: for requests that must not be repeated blindly (an upload chunk is resumed from the registry's offset instead). */
  once?: boolean;
}

const RETRYABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED']);

export function header(response: { headers: HttpResponse['headers'] }, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** OpenSSL's verification failures (node passes their names as error codes) and node's own TLS checks. */
function isCertificateProblem(code: string): boolean {
  return code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('UNABLE_TO_') || code.includes('SELF_SIGNED');
}

function isTlsMismatch(error: unknown): boolean {
  const code = errorCode(error) ?? '';
  const message = String((error as Error)?.message ?? '') + String(((error as { cause?: Error })?.cause)?.message ?? '');
  return code === 'EPROTO' || code.startsWith('ERR_SSL') || /wrong version number|packet length too long/i.test(message);
}

export class Transport {
  readonly registry: string;
  private readonly dispatcher: Agent;
  private readonly options: Required<Pick<TransportOptions, 'attempts' | 'backoffMs' | 'timeoutMs'>>;
  private scheme: 'https' | 'http';
  /** A loopback registry is tried over HTTPS first and over plain HTTP when it does not speak TLS. */
  private schemeSettled: boolean;

  constructor(registry: string, options: TransportOptions = {}) {
    this.registry = registry;
    const insecure = options.insecure?.includes(registry) ?? false;
    this.scheme = insecure ? 'http' : 'https';
    this.schemeSettled = insecure || !isLoopbackRegistry(registry);
    this.options = { attempts: options.attempts ?? 4, backoffMs: options.backoffMs ?? 250, timeoutMs: options.timeoutMs ?? 60_000 };
    this.dispatcher = new Agent({
      headersTimeout: this.options.timeoutMs,
      bodyTimeout: this.options.timeoutMs,
      connect: { ...(options.caCert ? { ca: [...rootCertificates, options.caCert] } : {}), timeout: Math.min(this.options.timeoutMs, 30_000) },
    });
  }

  /** `https://HOST/v2/...` (or http when allowed); absolute URLs (upload locations, token realms) pass through. */
  url(pathOrUrl: string): string {
    if (/^https?:\/\//.test(pathOrUrl)) return pathOrUrl;
    return `${this.scheme}://${this.registry}${pathOrUrl}`;
  }

  /** The origin of this registry, to tell whether a redirect or realm leaves it. */
  get origin(): string {
    return `${this.scheme}://${this.registry}`;
  }

  /**
   * Sends one request, retrying (bounded) on connection errors, 5xx and 429. A request body
   * is a Buffer, so every retry sends the same bytes. The caller owns the response body.
   */
  async send(request: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
    let lastProblem = '';
    const attempts = request.once ? 1 : this.options.attempts;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(this.options.backoffMs * 2 ** (attempt - 2), signal);
      const url = this.url(request.url);
      try {
        const response = await this.dispatcher.request({
          origin: new URL(url).origin,
          path: new URL(url).pathname + new URL(url).search,
          method: request.method,
          headers: { 'user-agent': 'kiln', ...(request.headers ?? {}) },
          ...(request.body ? { body: request.body } : {}),
          ...(signal ? { signal } : {}),
        });
        const status = response.statusCode;
        if ((status >= 500 || status === 429) && attempt < attempts) {
          await response.body.dump().catch(() => {});
          lastProblem = `HTTP ${status}`;
          continue;
        }
        if (status >= 500 || status === 429) {
          const text = await response.body.text().catch(() => '');
          throw new KilnError(ErrorCodes.REGISTRY_UNREACHABLE, `registry ${this.registry} answered HTTP ${status} to ${request.method} ${redact(url)}${attempts > 1 ? ` ${attempts} times` : ''}`, {
            details: text.trim() ? [text.trim().slice(0, 400)] : [],
            hint: 'the registry is failing; try again later or check its logs',
          });
        }
        this.schemeSettled = true;
        return { status, headers: response.headers, body: response.body, url };
      } catch (error) {
        if (error instanceof KilnError) throw error;
        if (signal?.aborted) throw error;
        if (!this.schemeSettled && this.scheme === 'https' && isTlsMismatch(error)) {
          this.scheme = 'http';
          this.schemeSettled = true;
          attempt--;
          continue;
        }
        const code = errorCode(error);
        lastProblem = `${code ?? ''} ${(error as Error).message}`.trim();
        if (code && isCertificateProblem(code)) {
          throw new KilnError(ErrorCodes.REGISTRY_UNREACHABLE, `registry ${this.registry}: its TLS certificate is not trusted (${code})`, {
            cause: error,
            hint: 'pass --ca-cert FILE with the CA that signed it (or --insecure for a plain-HTTP registry you trust)',
          });
        }
        if (!code || !RETRYABLE_CODES.has(code)) {
          if (isTlsMismatch(error)) {
            throw new KilnError(ErrorCodes.REGISTRY_UNREACHABLE, `registry ${this.registry} does not speak TLS`, { cause: error, hint: `if it is a plain-HTTP registry you trust, pass --insecure` });
          }
          if (attempt >= attempts) break;
        }
      }
    }
    throw new KilnError(ErrorCodes.REGISTRY_UNREACHABLE, `registry ${this.registry} could not be reached (${attempts} attempt${attempts > 1 ? 's' : ''}): ${lastProblem}`, {
      hint: 'check that the registry is running and the host and port are right',
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => {});
  }
}

/** URLs in messages never carry query strings (upload states, tokens). */
export function redact(url: string): string {
  return url.replace(/\?.*$/, '');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
