import envPaths from 'env-paths';
import { join } from 'node:path';

/**
 * Where kiln keeps things on the host. XDG_CACHE_HOME / XDG_STATE_HOME are honoured
 * (env-paths reads them); KILN_CACHE_DIR / KILN_STATE_DIR override both, which tests use to
 * get a private, disposable cache.
 */
export interface KilnPaths {
  /** Content-addressed caches: kernels, built shims, bake outputs, probe verdicts. */
  cache: string;
  /** Instance state (issue: managed instances). */
  state: string;
}

export function defaultPaths(env: NodeJS.ProcessEnv = process.env): KilnPaths {
  const base = envPaths('kiln', { suffix: '' });
  const cache = env.KILN_CACHE_DIR ?? (env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, 'kiln') : base.cache);
  const state = env.KILN_STATE_DIR ?? (env.XDG_STATE_HOME ? join(env.XDG_STATE_HOME, 'kiln') : join(base.data, 'state'));
  return { cache, state };
}
