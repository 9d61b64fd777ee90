import { KilnError, ErrorCodes } from '../../errors.js';
import type { Engine } from '../engine.js';
import type { EngineKind } from '../types.js';
import { qemuEngine } from './qemu.js';
import { xlEngine } from './xl.js';

/** The engines kiln can run a plan with; the only place that maps an engine kind to code. */
const ENGINES: Partial<Record<EngineKind, Engine>> = {
  qemu: qemuEngine,
  xl: xlEngine,
};

export function engineFor(kind: EngineKind): Engine {
  const engine = ENGINES[kind];
  if (!engine) {
    throw new KilnError(ErrorCodes.PLATFORM_UNAVAILABLE, `kiln cannot run images with ${kind} yet`, {
      hint: kind === 'libvirt' ? 'write a domain with `kiln export --libvirt` and start it with virsh' : 'launch it with QEMU',
    });
  }
  return engine;
}

export { qemuEngine, xlEngine };
