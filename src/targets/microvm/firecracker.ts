import type { RuntimeConfig } from '../../config/runtime.js';

/**
 * A Firecracker machine config (the file `firecracker --config-file` reads) for a microvm
 * image. Paths are relative to the image directory: run firecracker from there. Firecracker
 * has no user-mode network, so the interface is a tap device the host sets up
 * (FIRECRACKER_NET below); the default runtime archive bake writes configures the guest side.
 */
export interface FirecrackerInput {
  kernelFile: string;
  initrdFile: string;
  /** Kernel command line; Firecracker's only console is its 8250 serial port (ttyS0). */
  bootArgs: string;
  memoryMiB: number;
  cpus: number;
  /** One entry per guest interface, in order: eth0 is the first. */
  taps: readonly { hostDevName: string; guestMac: string }[];
}

/** The host-side network the default config assumes: a tap kiln-tap0 with 172.16.0.1/30. */
export const FIRECRACKER_NET = {
  tap: 'kiln-tap0',
  hostAddress: '172.16.0.1',
  guestAddress: '172.16.0.2/30',
  /** Locally administered (the 0x02 bit of 06), the last four bytes spell the guest address. */
  guestMac: '06:00:ac:10:00:02',
} as const;

export const FIRECRACKER_DEFAULT_CONFIG: RuntimeConfig = {
  version: 1,
  network: { interfaces: [{ name: 'eth0', address: FIRECRACKER_NET.guestAddress, gateway: FIRECRACKER_NET.hostAddress }], dns: [] },
};

export function firecrackerConfig(input: FirecrackerInput): Record<string, unknown> {
  return {
    'boot-source': { kernel_image_path: input.kernelFile, initrd_path: input.initrdFile, boot_args: input.bootArgs },
    drives: [],
    'machine-config': { vcpu_count: input.cpus, mem_size_mib: input.memoryMiB, smt: false },
    'network-interfaces': input.taps.map((tap, index) => ({ iface_id: `eth${index}`, guest_mac: tap.guestMac, host_dev_name: tap.hostDevName })),
  };
}
