import { shQuote } from './wrappers.js';

/**
 * The lines `kiln toolchain env` prints for `eval "$(kiln toolchain env)"`: the wrappers'
 * directory in front of PATH, and the autoconf site file that makes --host=<kiln tuple> a
 * cross build (install.ts: configSiteText). The directory is single-quoted; $PATH is left for the shell.
 */
export function shellEnvLines(binDir: string, configSite?: string): string[] {
  return [`export PATH=${shQuote(binDir)}:"$PATH"`, ...(configSite ? [`export CONFIG_SITE=${shQuote(configSite)}`] : [])];
}
