import { probeTargets } from '../../targets/registry.js';
import { HostProbe } from '../../targets/probe.js';
import { ARCHS, type Arch } from '../../arch.js';
import type { OutputMode } from '../render.js';

export async function targetsCommand(mode: OutputMode): Promise<number> {
  // Every architecture's targets; the x86_64 ones first, under their plain names (qemu), the others as name/arch (qemu/aarch64).
  const host = new HostProbe();
  const rows = (await Promise.all((Object.keys(ARCHS) as Arch[]).map((arch) => probeTargets(arch, host)))).flat();
  if (mode === 'json') {
    process.stdout.write(JSON.stringify(rows.map(({ target, probe }) => ({ name: target.name, arch: target.arch, description: target.description, boot: target.boot, console: target.console, configDelivery: target.configDelivery, exit: target.exit.kind, componentSets: target.componentSets, ...probe }))) + '\n');
    return 0;
  }
  for (const { target, probe } of rows) {
    const label = target.arch === 'x86_64' ? target.name : `${target.name}/${target.arch}`;
    process.stdout.write(`${label.padEnd(10)} ${probe.launchable ? 'launchable' : 'cannot launch here'}  ${target.description}\n`);
    process.stdout.write(`${''.padEnd(10)} component sets: ${target.componentSets.join(', ')}\n`);
    for (const platform of probe.platforms) {
      const verdict = platform.usable ? 'usable' : 'not usable';
      process.stdout.write(`${''.padEnd(10)} ${platform.platform}: ${verdict}${platform.version ? ` (${platform.version})` : ''}\n`);
      for (const reason of platform.reasons) process.stdout.write(`${''.padEnd(12)} - ${reason}\n`);
      for (const note of platform.notes) process.stdout.write(`${''.padEnd(12)} (${note})\n`);
    }
  }
  return 0;
}
