import type { MachineRequest } from '../types.js';
import type { QemuOption } from './options.js';

/** Which virtio transport a machine has: PCI on `pc`, MMIO on `microvm`. */
export type VirtioBus = 'pci' | 'mmio';

/** The same virtio device on either transport (virtio-net-pci / virtio-net-device). */
export function virtioDriver(device: 'net' | 'blk' | 'rng', bus: VirtioBus): string {
  return `virtio-${device}-${bus === 'pci' ? 'pci' : 'device'}`;
}

/**
 * What every machine adds after its own core: the user-mode network with its forwards, tap
 * interfaces, volume disks (found in the guest by serial), the gdb stub and a pid file.
 */
export function peripheralOptions(request: MachineRequest, bus: VirtioBus): QemuOption[] {
  const options: QemuOption[] = [];
  const nic = virtioDriver('net', bus);
  if (request.network.kind === 'user') {
    options.push({ kind: 'netdev-user', id: 'net0', forwards: request.network.forwards }, { kind: 'device', driver: nic, props: { netdev: 'net0' } });
  }
  (request.taps ?? []).forEach((tap, index) => {
    const id = `tap${index}`;
    options.push({ kind: 'netdev-tap', id, ifname: tap.ifname }, { kind: 'device', driver: nic, props: { netdev: id, mac: tap.mac } });
  });
  (request.drives ?? []).forEach((drive, index) => {
    const id = `vol${index}`;
    options.push(
      { kind: 'drive', id, path: drive.path, format: 'raw', readOnly: drive.readOnly },
      { kind: 'device', driver: virtioDriver('blk', bus), props: { drive: id, serial: drive.serial } },
    );
  });
  if (request.gdb) options.push({ kind: 'gdb', address: request.gdb.address, port: request.gdb.port });
  if (request.pidfilePath) options.push({ kind: 'pidfile', path: request.pidfilePath });
  return options;
}
