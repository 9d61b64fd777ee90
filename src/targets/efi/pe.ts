import { KilnError, ErrorCodes } from '../../errors.js';

/**
 * Just enough of a PE/COFF reader to place new sections after an EFI stub's own: the image
 * base, the section alignment and each section's virtual range (PE32+ only, as x86_64 EFI is).
 */
export interface PeLayout {
  imageBase: bigint;
  sectionAlignment: number;
  sections: { name: string; virtualAddress: number; virtualSize: number }[];
}

const PE32_PLUS = 0x20b;

export function readPeLayout(image: Buffer, name = 'PE file'): PeLayout {
  const bad = (why: string) => new KilnError(ErrorCodes.TOOL_FAILED, `${name} is not a PE32+ EFI image: ${why}`);
  if (image.length < 0x40 || image.toString('latin1', 0, 2) !== 'MZ') throw bad('no MZ header');
  const pe = image.readUInt32LE(0x3c);
  if (pe + 24 > image.length || image.toString('latin1', pe, pe + 4) !== 'PE\0\0') throw bad('no PE signature');
  const sectionCount = image.readUInt16LE(pe + 6);
  const optionalSize = image.readUInt16LE(pe + 20);
  const optional = pe + 24;
  if (optional + optionalSize > image.length || image.readUInt16LE(optional) !== PE32_PLUS) throw bad('not PE32+');
  const imageBase = image.readBigUInt64LE(optional + 24);
  const sectionAlignment = image.readUInt32LE(optional + 32);
  const sections: PeLayout['sections'] = [];
  for (let i = 0; i < sectionCount; i++) {
    const at = optional + optionalSize + i * 40;
    if (at + 40 > image.length) throw bad('section table cut short');
    const rawName = image.subarray(at, at + 8);
    const end = rawName.indexOf(0);
    sections.push({
      name: rawName.toString('latin1', 0, end < 0 ? 8 : end),
      virtualSize: image.readUInt32LE(at + 8),
      virtualAddress: image.readUInt32LE(at + 12),
    });
  }
  return { imageBase, sectionAlignment, sections };
}

/** Where each added section goes: after the stub's last section, in order, page-aligned. Pure. */
export function placeSections(layout: PeLayout, added: readonly { name: string; size: number }[]): { name: string; vma: bigint }[] {
  const PAGE = 0x1000;
  const align = (n: number) => Math.ceil(n / PAGE) * PAGE;
  let next = align(Math.max(0, ...layout.sections.map((section) => section.virtualAddress + section.virtualSize)));
  return added.map((section) => {
    const vma = layout.imageBase + BigInt(next);
    next = align(next + section.size);
    return { name: section.name, vma };
  });
}
