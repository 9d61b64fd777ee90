import { defaultPaths, type KilnPaths } from './paths.js';
import { silentReporter, type Reporter } from './events.js';

/**
 * Everything a domain operation needs from the outside world, passed explicitly (no global
 * singletons): where to keep files, whom to tell what happened, and a signal to stop early.
 */
export interface Context {
  paths: KilnPaths;
  reporter: Reporter;
  signal?: AbortSignal;
  env: NodeJS.ProcessEnv;
}

export function createContext(partial: Partial<Context> = {}): Context {
  const env = partial.env ?? process.env;
  return {
    paths: partial.paths ?? defaultPaths(env),
    reporter: partial.reporter ?? silentReporter,
    env,
    ...(partial.signal ? { signal: partial.signal } : {}),
  };
}
