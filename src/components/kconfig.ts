/**
 * A kernel's build configuration (the /boot/config-* file), as a plain record so it
 * serialises to JSON unchanged. Values are kept as Kconfig writes them, minus string quotes:
 * 'y' (built in), 'm' (module), a number, or a string. Options written as
 * "# CONFIG_X is not set" are recorded as 'n', so "explicitly off" differs from "absent"
 * (the option does not exist in this kernel version).
 */
export type KernelConfig = Record<string, string>;

const SET = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const NOT_SET = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/;

export function parseKernelConfig(text: string): KernelConfig {
  const config: KernelConfig = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const set = SET.exec(line);
    if (set) {
      config[set[1]!] = unquote(set[2]!);
      continue;
    }
    const off = NOT_SET.exec(line);
    if (off) config[off[1]!] = 'n';
  }
  return config;
}

/** How an option is present: built in, a loadable module, or not at all ('n' or absent). */
export function configState(config: KernelConfig, option: string): 'y' | 'm' | 'n' {
  const value = config[option.startsWith('CONFIG_') ? option : `CONFIG_${option}`];
  return value === 'y' || value === 'm' ? value : 'n';
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(["\\])/g, '$1');
  }
  return value;
}
