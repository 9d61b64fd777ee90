import type { ImageManifest } from '../image/manifest.js';
import type { ExitMethod } from '../init/contract.js';
import type { Arch } from '../arch.js';
import type { HostForward, QemuOption } from './qemu/options.js';
import type { HypervisorSpec } from '../components/hypervisor.js';

/**
 * Vocabulary.
 * - driver: one folder under src/targets per target (qemu, virt, microvm, xen, efi, disk), each
 *   exporting one TargetDriver: the target (what it is), its QEMU machine options, the files
 *   its images carry for other tools. src/targets/registry.ts lists the drivers; nothing else
 *   switches on target names, so adding a target is adding a folder and one line there.
 * - target: what `bake --target` selects. It fixes the kernel components an image carries, the
 *   form its kernel takes, the console, how the runtime config reaches the guest and how the
 *   shim reports the app's exit status. A target is a typed value (one variant per name in the
 *   `Target` union), never a string switch spread over the code.
 * - platform: what runs an image (QEMU, Xen's `xl`, Firecracker). One target may have several
 *   (a microvm image runs on QEMU microvm and on Firecracker); `launch` uses the first.
 */
export type TargetName = 'qemu' | 'microvm' | 'xen' | 'xen-host' | 'efi' | 'disk';

/**
 * The kernel file an image carries: the compressed bzImage, the uncompressed PVH-capable ELF,
 * or (aarch64) the arm64 Image as Debian ships it.
 */
export type KernelForm = 'bzimage' | 'vmlinux' | 'image';

/**
 * How one instance's runtime config reaches the guest.
 * - initrd-append: launch appends a small newc archive with /kiln/runtime.conf to the image's
 *   initrd (the kernel unpacks concatenated archives in order).
 * - baked-default: the platform is started by someone else's tool (xl, firecracker) from a file
 *   kiln wrote at bake, so bake writes a default runtime archive beside the image; kiln's own
 *   launch still appends a per-instance one where it can.
 * - uki-relink: the initrd is inside a signed-or-not PE file (a UKI), where nothing can be
 *   appended; the image carries a UKI with a default config for other firmware, and kiln's
 *   launch links a fresh UKI per instance (objcopy, ~0.5 s) with that instance's archive.
 */
export type ConfigDelivery = 'initrd-append' | 'baked-default' | 'uki-relink';

/** Network attachments a platform can give the guest. */
export type NetworkKind = 'user' | 'tap' | 'bridge';

/** A platform that can run images of a target, with what it needs on the host. */
export type Platform =
  | { kind: 'qemu'; machine: 'pc' | 'q35' | 'microvm' | 'virt'; firmware?: 'uefi'; /** The guest architecture (default x86_64): which qemu-system-* runs it. */ arch?: Arch }
  | { kind: 'xl' }
  | { kind: 'firecracker' };

interface TargetCommon {
  /** The CPU architecture of the images (src/arch.ts); a target name may exist for several. */
  arch: Arch;
  description: string;
  /** Component sets (see src/components/sets.ts) every image for this target carries. */
  componentSets: readonly string[];
  kernel: KernelForm;
  /** The Debian kernel package (or metapackage) when not the architecture's cloud kernel. */
  kernelPackage?: string;
  /** A hypervisor the image boots first, with its kernel as the first guest (src/components/hypervisor.ts). */
  hypervisor?: HypervisorSpec;
  /** Kernel command line before any per-launch additions. */
  cmdline: readonly string[];
  /** The guest device the console is on (as the kernel names it). */
  console: string;
  /** How the runtime config reaches the guest (shown by `kiln targets --json`). */
  configDelivery: ConfigDelivery;
  /** Where the shim writes its KILN-START/KILN-EXIT lines; the console when it is the same device. */
  statusDevice: string;
  exit: ExitMethod;
  /** A power button on a GPIO line (CHIP:LINE) the shim watches instead of ACPI's (aarch64 virt). */
  powerGpio?: string;
  /** Network attachments the runtime config may ask for on this target. */
  networks: readonly NetworkKind[];
  /** Platforms that run this target's images, the one `kiln launch` uses first. */
  platforms: readonly Platform[];
  /**
   * Extra files bake writes into the image directory for other tools (relative names, in the
   * order image.json lists them): the driver's writeArtifacts writes exactly these.
   */
  artifacts: readonly string[];
}

export interface QemuTarget extends TargetCommon {
  name: 'qemu';
  boot: 'bzimage+initrd';
}

/** The `qemu` target on aarch64: QEMU's virt board booting an arm64 Image (src/targets/virt). */
export interface VirtTarget extends TargetCommon {
  name: 'qemu';
  boot: 'arm64-image+initrd';
}

export interface MicrovmTarget extends TargetCommon {
  name: 'microvm';
  boot: 'pvh-vmlinux+initrd';
}

export interface XenTarget extends TargetCommon {
  name: 'xen';
  boot: 'pvh-vmlinux+initrd';
}

/** A Xen machine: the hypervisor boots by multiboot, the image's kernel and initrd are its dom0. */
export interface XenHostTarget extends TargetCommon {
  name: 'xen-host';
  boot: 'xen-multiboot';
  hypervisor: HypervisorSpec;
}

/** A Unified Kernel Image (one PE file: EFI stub + kernel + initrd + cmdline), booted by UEFI firmware. */
export interface EfiTarget extends TargetCommon {
  name: 'efi';
  boot: 'uki';
}

/** A GPT disk whose EFI system partition holds the UKI at the firmware's default path. */
export interface DiskTarget extends TargetCommon {
  name: 'disk';
  boot: 'gpt-esp-uki';
}

export type Target = QemuTarget | VirtTarget | MicrovmTarget | XenTarget | XenHostTarget | EfiTarget | DiskTarget;

/** What a UEFI boot adds to a machine request: firmware and the EFI system partition to boot from. */
export interface UefiBoot {
  codePath: string;
  varsPath: string;
  /** A directory laid out as an ESP (EFI/BOOT/BOOTX64.EFI), shown to the firmware as a FAT disk. */
  espDir?: string;
  /** Or a whole disk image (GPT with an ESP). */
  diskPath?: string;
  /** Attach diskPath read-write (a disk whose data partition the guest writes); default read-only. */
  diskWritable?: boolean;
}

/** A Secure Boot key and certificate (PEM files) to sign a UKI with (src/targets/efi/sign.ts). */
export interface SigningRequest {
  keyPath: string;
  certPath: string;
}

/** One target's behaviour, in its own folder: what it is, how QEMU boots it, what bake writes for other tools. */
export interface TargetDriver<T extends Target = Target> {
  readonly target: T;
  /**
   * The QEMU options that boot an image of this target (pure, golden-tested). A target QEMU
   * cannot run (xen), or not in the asked way, refuses with the reason.
   */
  machineOptions(request: MachineRequest): QemuOption[];
  /** Writes `target.artifacts` into a baking image directory (a pure function of the manifest, so the image key still names all bytes). */
  writeArtifacts(dir: string, manifest: ImageManifest, signing?: SigningRequest): Promise<void>;
}

/** What a launch asks of a platform: resolved, validated values only. */
export interface MachineRequest {
  kernelPath: string;
  initrdPath: string;
  cmdline: string;
  memoryMiB: number;
  cpus: number;
  accel: 'kvm' | 'tcg';
  network: { kind: 'none' } | { kind: 'user'; forwards: readonly HostForward[] };
  /** Extra NICs on existing tap devices (made by the user or a test, never by kiln). */
  taps?: readonly { ifname: string; mac?: string }[];
  /** Disks, attached as virtio-blk in this order; `serial` is how the guest finds each one. */
  drives?: readonly { path: string; readOnly: boolean; serial: string }[];
  consoleLogPath?: string;
  statusPath: string;
  qmpSocketPath: string;
  gdb?: { address: string; port: number };
  pidfilePath?: string;
  /**
   * The host's TSC frequency in kHz. Under TCG the guest reads the host's TSC, so a target
   * that skips the kernel's TSC calibration (microvm) passes this value as tsc_early_khz.
   */
  hostTscKhz?: number;
  /** Boot through UEFI firmware from an ESP instead of -kernel (kernelPath/initrdPath/cmdline are then inside the UKI). */
  uefi?: UefiBoot;
  /** Boot this hypervisor with -kernel; kernelPath, cmdline and initrdPath become its first guest's (xen-host). */
  hypervisorPath?: string;
}
