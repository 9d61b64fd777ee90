import { listTargets, probeTarget } from '../../targets/registry.js';
import type { OutputMode } from '../render.js';

export async function targetsCommand(mode: OutputMode): Promise<number> {
  const rows = await Promise.all(listTargets().map(async (target) => ({ target, probe: await probeTarget(target) })));
  if (mode === 'json') {
    process.stdout.write(JSON.stringify(rows.map(({ target, probe }) => ({ name: target.name, description: target.description, ...probe }))) + '\n');
    return 0;
  }
  for (const { target, probe } of rows) {
    process.stdout.write(`${target.name.padEnd(10)} ${probe.launchable ? 'launchable' : 'cannot launch here'}  ${target.description}\n`);
    for (const reason of probe.reasons) process.stdout.write(`${''.padEnd(10)} - ${reason}\n`);
  }
  return 0;
}
