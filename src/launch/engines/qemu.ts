import type { Context } from '../../context.js';
import { KilnError, ErrorCodes } from '../../errors.js';
import { getArch } from '../../arch.js';
import { prepareUefiBoot } from '../../targets/efi/boot.js';
import { toArgv } from '../../targets/qemu/options.js';
import { qemuMachineOptions } from '../../targets/registry.js';
import type { MachineRequest } from '../../targets/types.js';
import { prepareVolumes } from '../../volumes/image.js';
import type { Engine, EngineResult, RunControl } from '../engine.js';
import type { LaunchPlan } from '../plan.js';
import { createRunDir, type RunDir } from '../rundir.js';
import { runVm } from '../vm.js';

/**
 * The QEMU engine: a run directory with the instance's initrd (the image's, with the runtime
 * config appended), volume images, for UEFI a per-instance UKI and variable store, then QEMU
 * with the target's machine options (src/targets/registry.ts) until it exits.
 */
export const qemuEngine: Engine = {
  kind: 'qemu',
  async run(ctx: Context, plan: LaunchPlan, control: RunControl): Promise<EngineResult> {
    if (!plan.accel) throw new KilnError(ErrorCodes.VM_FAILED, 'internal: a QEMU launch was planned without an accelerator');
    const runDir = await createRunDir(plan.image, plan.records, plan.config, control.runDirParent);
    try {
      const drives = await prepareVolumes(plan.config.volumes ?? [], control.volumeImageDir ?? runDir.dir);
      for (const drive of drives) {
        if (drive.kind === 'copy' && !drive.readOnly && control.volumeImageDir === undefined) {
          ctx.reporter.emit({
            type: 'warning',
            code: ErrorCodes.VOLUME_IS_A_COPY,
            message: `volume ${drive.target} is a copy of the host directory; what the app writes there is discarded when the VM ends`,
            hint: 'use an image file (-v FILE.img:PATH) or a detached instance (-d) to keep writes',
          });
        }
      }
      const uefi = plan.firmware === 'uefi' ? await prepareUefiBoot(plan.image, runDir.dir, runDir.initrdPath) : undefined;
      const machine = machineRequest(plan, runDir, {
        ...(uefi ? { uefi } : {}),
        drives: drives.map((drive) => ({ path: drive.path, readOnly: drive.readOnly, serial: drive.serial })),
        ...(control.consoleLogPath ? { consoleLogPath: control.consoleLogPath } : {}),
      });
      const result = await runVm(ctx, {
        qemu: getArch(plan.target.arch).qemu,
        argv: toArgv(qemuMachineOptions(plan.target, machine)),
        accel: machine.accel,
        statusPath: runDir.statusPath,
        qmpSocketPath: runDir.qmpSocketPath,
        ...(control.console && !control.consoleLogPath ? { console: control.console } : {}),
        stopTimeoutSeconds: control.stopTimeoutSeconds,
        ...(control.timeoutSeconds !== undefined ? { timeoutSeconds: control.timeoutSeconds } : {}),
        ...(control.stopSignal ? { stopSignal: control.stopSignal } : {}),
        ...(control.killSignal ? { killSignal: control.killSignal } : {}),
      });
      return { report: result.report, timings: result.timings, consoleTail: result.consoleTail };
    } finally {
      await runDir.remove();
    }
  },
};

/** The machine request for a plan in its run directory: typed values the target's machine options render. Pure. */
export function machineRequest(plan: LaunchPlan, runDir: Pick<RunDir, 'initrdPath' | 'statusPath' | 'qmpSocketPath'>, extra: Partial<MachineRequest> = {}): MachineRequest {
  return {
    ...(extra.uefi ? { uefi: extra.uefi } : {}),
    kernelPath: plan.image.kernelPath,
    ...(plan.image.hypervisorPath ? { hypervisorPath: plan.image.hypervisorPath } : {}),
    initrdPath: runDir.initrdPath,
    cmdline: plan.image.manifest.cmdline,
    memoryMiB: plan.memoryMiB,
    cpus: plan.cpus,
    accel: plan.accel!.accel,
    ...(plan.hostTscKhz !== undefined ? { hostTscKhz: plan.hostTscKhz } : {}),
    network: plan.network,
    taps: plan.taps,
    drives: extra.drives ?? [],
    ...(extra.consoleLogPath ? { consoleLogPath: extra.consoleLogPath } : {}),
    statusPath: runDir.statusPath,
    qmpSocketPath: runDir.qmpSocketPath,
    ...(plan.gdb ? { gdb: plan.gdb } : {}),
  };
}
