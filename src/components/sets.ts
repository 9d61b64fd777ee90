import { KilnError, ErrorCodes } from '../errors.js';
import { normaliseModuleName } from './modinfo.js';
import type { ModuleIndex } from './modules.js';

/**
 * Named component sets: what a guest feature needs from the kernel, as module names. A set
 * names the modules a guest asks for by name; their dependencies come from the index, and
 * anything built into the kernel is dropped from the load list. So a set stays right for a
 * kernel where a driver is built in (it just contributes nothing) and for one where it is a
 * module. Kconfig notes are for the Debian 12 cloud kernel (6.1, cloud-amd64).
 */
export interface ComponentSet {
  description: string;
  modules: readonly string[];
}

export const COMPONENT_SETS = {
  'virtio-pci': {
    description: 'virtio transport over PCI (QEMU pc/q35): VIRTIO_PCI=m',
    modules: ['virtio_pci'],
  },
  'virtio-mmio': {
    description: 'virtio transport over MMIO (QEMU microvm, Firecracker): VIRTIO_MMIO=m',
    modules: ['virtio_mmio'],
  },
  'virtio-net': {
    description: 'virtio network device (needs a virtio transport set): VIRTIO_NET=m',
    modules: ['virtio_net'],
  },
  'virtio-blk': {
    description: 'virtio block device (needs a virtio transport set): VIRTIO_BLK=m',
    modules: ['virtio_blk'],
  },
  'virtio-scsi': {
    description: "virtio SCSI host and SCSI disks (QEMU virtio-scsi-pci; GCE's SCSI disk interface): SCSI_VIRTIO=m, BLK_DEV_SD=m, SCSI=m (needs a virtio transport set)",
    modules: ['virtio_scsi', 'sd_mod'],
  },
  'virtio-console': {
    description: 'virtio console/serial ports (needs a virtio transport set): VIRTIO_CONSOLE=m',
    modules: ['virtio_console'],
  },
  'virtio-rng': {
    description: 'virtio entropy source, seeds the guest RNG early (needs a virtio transport set): HW_RANDOM_VIRTIO=m',
    modules: ['virtio_rng'],
  },
  'virtio-fs': {
    description: 'virtiofs shared directories (needs a virtio transport set): VIRTIO_FS=m, FUSE_FS=m',
    modules: ['virtiofs'],
  },
  'fw-cfg': {
    description: 'QEMU fw_cfg entries under /sys/firmware/qemu_fw_cfg (a way to pass runtime config): FW_CFG_SYSFS=m',
    modules: ['qemu_fw_cfg'],
  },
  'acpi-power': {
    description: "ACPI power button, so the guest sees a graceful shutdown request: the button driver (ACPI_BUTTON=m) announces presses on the ACPI core's generic-netlink event channel, which the shim listens to",
    modules: ['button'],
  },
  'fs-ext4': {
    description: 'ext4 file systems: EXT4_FS=y (built in, so nothing to load on the Debian kernel)',
    modules: ['ext4'],
  },
  nvme: {
    description: 'NVMe disks (EC2 Nitro EBS, GCE NVMe): BLK_DEV_NVME=y (built in on the cloud kernel, so nothing to load)',
    modules: ['nvme'],
  },
  ena: {
    description: 'Amazon Elastic Network Adapter (EC2 Nitro instances): ENA_ETHERNET=m',
    modules: ['ena'],
  },
  gve: {
    description: 'Google Virtual NIC (gVNIC, GCE): GVE=m',
    modules: ['gve'],
  },
  'xen-net': {
    description: 'Xen paravirtual network frontend: XEN_NETDEV_FRONTEND=m',
    modules: ['xen_netfront'],
  },
  'xen-blk': {
    description: 'Xen paravirtual block frontend: XEN_BLKDEV_FRONTEND=m',
    modules: ['xen_blkfront'],
  },
  'xen-dom0': {
    description:
      "what a Xen dom0's toolstack needs (Debian's generic kernel, XEN_DOM0=y): event channels, grant tables and privcmd for xl and xenstored, xenfs for /proc/xen, the net and block backends, a bridge for guests' vifs and loop devices for file-backed disks",
    modules: ['xen_evtchn', 'xenfs', 'xen_gntdev', 'xen_gntalloc', 'xen_privcmd', 'xen_netback', 'xen_blkback', 'bridge', 'loop'],
  },
} as const satisfies Record<string, ComponentSet>;

export type ComponentSetName = keyof typeof COMPONENT_SETS;

export function isComponentSetName(name: string): name is ComponentSetName {
  return Object.hasOwn(COMPONENT_SETS, name);
}

export interface ModuleToLoad {
  name: string;
  /** Relative to the kernel's modules dir (lib/modules/<release>). */
  path: string;
}

/**
 * The modules to load for `sets` plus `extraModules`, dependencies first. Pure.
 * Order: among the modules whose dependencies are all loaded, the smallest name goes next
 * (Kahn's algorithm with a name-ordered choice), so the same request always gives the same
 * list. Built-in modules satisfy dependencies and are not listed.
 */
export function resolveModuleClosure(index: ModuleIndex, sets: readonly string[], extraModules: readonly string[] = []): ModuleToLoad[] {
  const unknown = sets.filter((set) => !isComponentSetName(set));
  if (unknown.length > 0) {
    throw new KilnError(ErrorCodes.COMPONENT_SET_UNKNOWN, `unknown component set${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, {
      hint: `known sets: ${Object.keys(COMPONENT_SETS).sort().join(', ')}`,
    });
  }
  const requested = [...sets.flatMap((set) => COMPONENT_SETS[set as ComponentSetName].modules), ...extraModules].map(normaliseModuleName);

  // Collect the closure (loadable modules only), remembering who needed what for errors.
  const closure = new Map<string, string[]>(); // name -> loadable dependencies
  const stack = requested.map((name) => ({ name, neededBy: 'requested' }));
  while (stack.length > 0) {
    const { name, neededBy } = stack.pop()!;
    if (closure.has(name)) continue;
    const module = index.modules.get(name);
    if (!module) {
      throw new KilnError(ErrorCodes.MODULE_NOT_FOUND, `kernel module ${name} is not in kernel ${index.release}`, {
        hint: 'this kernel neither ships it as a module nor has it built in; pick another kernel or drop the component set that needs it',
        details: [neededBy === 'requested' ? `${name} was requested` : `${name} is needed by ${neededBy}`],
      });
    }
    if (module.builtin) continue;
    const deps = module.depends.map(normaliseModuleName);
    closure.set(name, deps.filter((dep) => !index.modules.get(dep)?.builtin));
    for (const dep of deps) stack.push({ name: dep, neededBy: name });
  }

  // Kahn's algorithm; `ready` is kept sorted so the next module is always the smallest name.
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const [name, deps] of closure) {
    waitingOn.set(name, new Set(deps).size);
    for (const dep of new Set(deps)) dependents.set(dep, [...(dependents.get(dep) ?? []), name]);
  }
  const ready = [...closure.keys()].filter((name) => waitingOn.get(name) === 0).sort();
  const order: ModuleToLoad[] = [];
  while (ready.length > 0) {
    const name = ready.shift()!;
    order.push({ name, path: index.modules.get(name)!.path });
    for (const dependent of dependents.get(name) ?? []) {
      const left = waitingOn.get(dependent)! - 1;
      waitingOn.set(dependent, left);
      if (left === 0) insertSorted(ready, dependent);
    }
  }
  if (order.length < closure.size) {
    const stuck = [...closure.keys()].filter((name) => waitingOn.get(name)! > 0).sort();
    throw new KilnError(ErrorCodes.MODULE_DEPENDENCY_CYCLE, `kernel modules depend on each other in a cycle: ${stuck.join(', ')}`, {
      hint: 'the module index is inconsistent; rebuild it (delete the cached modules.index.json) or check the modules directory',
      details: stuck.map((name) => `${name} depends on ${closure.get(name)!.join(', ')}`),
    });
  }
  return order;
}

function insertSorted(list: string[], value: string): void {
  let at = 0;
  while (at < list.length && list[at]! < value) at++;
  list.splice(at, 0, value);
}
