/**
 * QEMU command-line options as typed values. argv is only ever produced by `toArgv`, never by
 * pasting strings, so a path with a comma or a user-supplied value cannot inject options.
 */
export type PropValue = string | number | boolean;
export type Props = Readonly<Record<string, PropValue | undefined>>;

export interface HostForward {
  protocol: 'tcp' | 'udp';
  hostAddress: string;
  hostPort: number;
  guestPort: number;
}

export type QemuOption =
  | { kind: 'machine'; type: string; props?: Props }
  | { kind: 'accel'; accel: 'kvm' | 'tcg'; props?: Props }
  | { kind: 'cpu'; model: string; /** CPU flags such as +svm, after the model. */ features?: readonly string[] }
  | { kind: 'memory'; mib: number }
  | { kind: 'smp'; cpus: number }
  | { kind: 'kernel'; path: string }
  | { kind: 'initrd'; path: string }
  /** Multiboot modules for a multiboot -kernel (a hypervisor): each file with its command line. */
  | { kind: 'multiboot-modules'; modules: readonly { path: string; cmdline?: string }[] }
  | { kind: 'append'; cmdline: string }
  | { kind: 'chardev'; backend: 'stdio' | 'file' | 'socket' | 'null' | 'pipe'; id: string; props?: Props }
  | { kind: 'serial'; chardev: string }
  | { kind: 'device'; driver: string; props?: Props }
  | { kind: 'netdev-user'; id: string; forwards: readonly HostForward[]; props?: Props }
  | { kind: 'drive'; id: string; path: string; format: 'raw'; readOnly: boolean }
  | { kind: 'netdev-tap'; id: string; ifname: string }
  /** UEFI firmware flash: unit 0 the code (read-only), unit 1 this VM's own copy of the variables. */
  | { kind: 'pflash'; unit: 0 | 1; path: string; readOnly: boolean }
  | { kind: 'qmp'; socketPath: string }
  | { kind: 'gdb'; address: string; port: number }
  | { kind: 'pidfile'; path: string }
  | { kind: 'flag'; name: 'nodefaults' | 'no-reboot' | 'no-user-config' | 'nographic' | 'S' }
  | { kind: 'display'; type: 'none' };

/** QEMU's option syntax: a literal comma inside a value is written as two commas. */
export function escapeValue(value: PropValue): string {
  const text = typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
  return text.replaceAll(',', ',,');
}

function joinProps(head: string | undefined, props: Props | undefined): string {
  const parts = head === undefined ? [] : [head];
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value !== undefined) parts.push(`${key}=${escapeValue(value)}`);
  }
  return parts.join(',');
}

function hostForward(forward: HostForward): string {
  return `hostfwd=${forward.protocol}:${forward.hostAddress}:${forward.hostPort}-:${forward.guestPort}`;
}

export function optionToArgv(option: QemuOption): string[] {
  switch (option.kind) {
    case 'machine':
      return ['-machine', joinProps(escapeValue(option.type), option.props)];
    case 'accel':
      return ['-accel', joinProps(option.accel, option.props)];
    case 'cpu':
      return ['-cpu', [option.model, ...(option.features ?? [])].map(escapeValue).join(',')];
    case 'memory':
      return ['-m', `${option.mib}M`];
    case 'smp':
      return ['-smp', String(option.cpus)];
    case 'kernel':
      return ['-kernel', option.path];
    case 'initrd':
      return ['-initrd', option.path];
    case 'multiboot-modules':
      // QEMU splits the list at commas and the path from its arguments at the first space.
      return ['-initrd', option.modules.map((m) => escapeValue(m.cmdline ? `${m.path} ${m.cmdline}` : m.path)).join(',')];
    case 'append':
      return ['-append', option.cmdline];
    case 'chardev':
      return ['-chardev', joinProps(option.backend, { id: option.id, ...option.props })];
    case 'serial':
      return ['-serial', `chardev:${option.chardev}`];
    case 'device':
      return ['-device', joinProps(escapeValue(option.driver), option.props)];
    case 'netdev-user': {
      const head = ['user', `id=${escapeValue(option.id)}`, ...option.forwards.map(hostForward)].join(',');
      return ['-netdev', joinProps(head, option.props)];
    }
    case 'drive':
      // if=none: the drive is only a backend; a -device (virtio-blk-pci) makes it visible.
      return ['-drive', joinProps(undefined, { if: 'none', id: option.id, file: option.path, format: option.format, readonly: option.readOnly })];
    case 'pflash':
      return ['-drive', joinProps(undefined, { if: 'pflash', format: 'raw', unit: option.unit, file: option.path, readonly: option.readOnly })];
    case 'netdev-tap':
      // script=no: kiln never runs ifup scripts as root; the tap device must already exist.
      return ['-netdev', joinProps('tap', { id: option.id, ifname: option.ifname, script: 'no', downscript: 'no' })];
    case 'qmp':
      return ['-qmp', `unix:${escapeValue(option.socketPath)},server=on,wait=off`];
    case 'gdb':
      return ['-gdb', `tcp:${option.address}:${option.port}`];
    case 'pidfile':
      return ['-pidfile', option.path];
    case 'flag':
      return [`-${option.name}`];
    case 'display':
      return ['-display', option.type];
  }
}

export function toArgv(options: readonly QemuOption[]): string[] {
  return options.flatMap(optionToArgv);
}
