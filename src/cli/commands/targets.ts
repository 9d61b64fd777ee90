import { probeTargets } from '../../targets/registry.js';
import type { OutputMode } from '../render.js';

export async function targetsCommand(mode: OutputMode): Promise<number> {
  const rows = await probeTargets();
  if (mode === 'json') {
    process.stdout.write(JSON.stringify(rows.map(({ target, probe }) => ({ name: target.name, description: target.description, boot: target.boot, console: target.console, configDelivery: target.configDelivery, exit: target.exit.kind, componentSets: target.componentSets, ...probe }))) + '\n');
    return 0;
  }
  for (const { target, probe } of rows) {
    process.stdout.write(`${target.name.padEnd(10)} ${probe.launchable ? 'launchable' : 'cannot launch here'}  ${target.description}\n`);
    for (const platform of probe.platforms) {
      const verdict = platform.usable ? 'usable' : 'not usable';
      process.stdout.write(`${''.padEnd(10)} ${platform.platform}: ${verdict}${platform.version ? ` (${platform.version})` : ''}\n`);
      for (const reason of platform.reasons) process.stdout.write(`${''.padEnd(12)} - ${reason}\n`);
      for (const note of platform.notes) process.stdout.write(`${''.padEnd(12)} (${note})\n`);
    }
  }
  return 0;
}
