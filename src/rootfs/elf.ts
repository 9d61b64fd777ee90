import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { KilnError, ErrorCodes } from '../errors.js';

/**
 * A small ELF reader: enough to know what a program needs to run (interpreter, DT_NEEDED,
 * search paths), what it is (class, machine, type), its notes and its sections. It reads
 * only the byte ranges it needs, so a 100 MB app costs a few kilobytes of reads.
 * Layouts follow the System V gABI (see elf(5)).
 */

export const EM_386 = 3;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

const MACHINE_NAMES: Record<number, string> = {
  2: 'sparc', 3: 'x86', 8: 'mips', 20: 'ppc', 21: 'ppc64', 22: 's390', 40: 'arm', 43: 'sparcv9',
  [EM_X86_64]: 'x86_64', [EM_AARCH64]: 'aarch64', 243: 'riscv', 258: 'loongarch',
};

const ELF_TYPES: Record<number, ElfInfo['type']> = { 1: 'rel', 2: 'exec', 3: 'dyn', 4: 'core' };

const PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_NOTE = 4;
const SHT_NULL = 0, SHT_DYNAMIC = 6, SHT_NOTE = 7, SHT_NOBITS = 8;
const DT_NULL = 0, DT_NEEDED = 1, DT_STRTAB = 5, DT_STRSZ = 10, DT_SONAME = 14, DT_RPATH = 15, DT_RUNPATH = 29;
const DT_FLAGS_1 = 0x6ffffffb, DF_1_PIE = 0x08000000;
/** Escape values used when a count or index does not fit the ELF header (it is then in section 0). */
const PN_XNUM = 0xffff, SHN_XINDEX = 0xffff;

export interface ElfSection {
  name: string;
  offset: number;
  size: number;
  type: number;
}

export interface ElfNote {
  name: string;
  type: number;
  desc: Buffer;
}

export interface ElfInfo {
  class: 32 | 64;
  endian: 'le' | 'be';
  machine: number;
  machineName: string;
  type: 'exec' | 'dyn' | 'rel' | 'core' | 'other';
  interpreter?: string;
  needed: string[];
  runpath: string[];
  rpath: string[];
  soname?: string;
  /** No PT_INTERP and no DT_NEEDED: the kernel can run it with nothing else in the tree. */
  isStatic: boolean;
  isPie: boolean;
  notes: ElfNote[];
  sections: ElfSection[];
}

/** Where the parser gets bytes: a whole Buffer, or ranges read from an open file. */
interface ByteSource {
  size: number;
  read(offset: number, length: number): Buffer;
}

export function isElf(buf: Buffer): boolean {
  return buf.length >= 4 && buf.readUInt32BE(0) === 0x7f454c46;
}

export function parseElf(buf: Buffer, path = '<buffer>'): ElfInfo {
  return new Parser({ size: buf.length, read: (offset, length) => buf.subarray(offset, offset + length) }, path).parse();
}

/** Parses an ELF file by reading only its headers, tables and dynamic strings. */
export function parseElfFile(path: string): ElfInfo {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const read = (offset: number, length: number): Buffer => {
      const out = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return out.subarray(0, done);
    };
    return new Parser({ size, read }, path).parse();
  } finally {
    closeSync(fd);
  }
}

/** The bytes of a named section, e.g. '.modinfo' of a kernel module; zeros for SHT_NOBITS. */
export function readSection(buf: Buffer, info: ElfInfo, name: string): Buffer | undefined {
  const section = info.sections.find((s) => s.name === name);
  if (!section) return undefined;
  if (section.type === SHT_NOBITS) return Buffer.alloc(section.size);
  if (section.offset + section.size > buf.length) return undefined;
  return buf.subarray(section.offset, section.offset + section.size);
}

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
  align: number;
}

interface RawSection extends ElfSection {
  link: number;
  info: number;
  align: number;
}

class Parser {
  private is64 = false;
  private le = true;

  constructor(private readonly src: ByteSource, private readonly path: string) {}

  parse(): ElfInfo {
    const ident = this.src.read(0, Math.min(16, this.src.size));
    if (!isElf(ident)) {
      throw new KilnError(ErrorCodes.APP_NOT_ELF, `${this.path} is not an ELF file`, {
        hint: 'kiln runs Linux programs (ELF executables); for a script, bake its interpreter and pass the script as an argument',
      });
    }
    if (ident.length < 16) this.corrupt('the file ends inside the ELF identification bytes');
    if (ident[4] !== 1 && ident[4] !== 2) this.corrupt(`unknown ELF class ${ident[4]}`);
    if (ident[5] !== 1 && ident[5] !== 2) this.corrupt(`unknown ELF data encoding ${ident[5]}`);
    this.is64 = ident[4] === 2;
    this.le = ident[5] === 1;

    const h = this.bytes(0, this.is64 ? 64 : 52, 'ELF header');
    const w = this.is64 ? 8 : 4;
    const type = this.u16(h, 16);
    const machine = this.u16(h, 18);
    const phoff = this.word(h, 24 + w);
    const shoff = this.word(h, 24 + 2 * w);
    const [phentsize, phnumRaw, shentsize, shnumRaw, shstrndxRaw] = [0, 2, 4, 6, 8].map((d) => this.u16(h, 30 + 3 * w + d)) as [number, number, number, number, number];

    // Section 0 holds the real counts when they overflow the header fields.
    const section0 = shoff !== 0 ? this.sectionHeaders(shoff, shentsize, 1)[0] : undefined;
    const shnum = shnumRaw === 0 && section0 ? section0.size : shnumRaw;
    const shstrndx = shstrndxRaw === SHN_XINDEX && section0 ? section0.link : shstrndxRaw;
    const phnum = phnumRaw === PN_XNUM && section0 ? section0.info : phnumRaw;

    const segments = phoff !== 0 ? this.programHeaders(phoff, phentsize, phnum) : [];
    const sections = shoff !== 0 ? this.sectionHeaders(shoff, shentsize, shnum) : [];
    this.nameSections(sections, sections[shstrndx]);
    // A truncated copy usually keeps its headers: check that every byte they point to exists.
    for (const s of segments) if (s.type === PT_LOAD) this.checkRange(s.offset, s.filesz, 'a loadable segment');
    for (const s of sections) if (s.type !== SHT_NULL && s.type !== SHT_NOBITS) this.checkRange(s.offset, s.size, `section ${s.name || '?'}`);

    const interpSegment = segments.find((s) => s.type === PT_INTERP);
    const interpreter = interpSegment ? cString(this.bytes(interpSegment.offset, interpSegment.filesz, 'PT_INTERP'), 0) : undefined;
    const dyn = this.dynamic(segments, sections);
    const typeName = ELF_TYPES[type] ?? 'other';
    const isPie = typeName === 'dyn' && ((dyn.flags1 & DF_1_PIE) !== 0 || (interpreter !== undefined && dyn.soname === undefined));

    return {
      class: this.is64 ? 64 : 32,
      endian: this.le ? 'le' : 'be',
      machine,
      machineName: MACHINE_NAMES[machine] ?? `em_${machine}`,
      type: typeName,
      ...(interpreter !== undefined ? { interpreter } : {}),
      needed: dyn.needed,
      runpath: dyn.runpath,
      rpath: dyn.rpath,
      ...(dyn.soname !== undefined ? { soname: dyn.soname } : {}),
      isStatic: interpreter === undefined && dyn.needed.length === 0,
      isPie,
      notes: this.notes(segments, sections),
      sections: sections.map(({ name, offset, size, type: t }) => ({ name, offset, size, type: t })),
    };
  }

  private programHeaders(offset: number, entsize: number, count: number): Segment[] {
    if (count === 0) return [];
    if (entsize < (this.is64 ? 56 : 32)) this.corrupt(`program header entries are ${entsize} bytes, too small`);
    const table = this.bytes(offset, entsize * count, 'program header table');
    const out: Segment[] = [];
    for (let i = 0; i < count; i++) {
      const p = table.subarray(i * entsize, (i + 1) * entsize);
      out.push(this.is64
        ? { type: this.u32(p, 0), offset: this.word(p, 8), vaddr: this.word(p, 16), filesz: this.word(p, 32), align: this.word(p, 48) }
        : { type: this.u32(p, 0), offset: this.u32(p, 4), vaddr: this.u32(p, 8), filesz: this.u32(p, 16), align: this.u32(p, 28) });
    }
    return out;
  }

  private sectionHeaders(offset: number, entsize: number, count: number): RawSection[] {
    if (count === 0) return [];
    if (entsize < (this.is64 ? 64 : 40)) this.corrupt(`section header entries are ${entsize} bytes, too small`);
    const table = this.bytes(offset, entsize * count, 'section header table');
    const out: RawSection[] = [];
    for (let i = 0; i < count; i++) {
      const s = table.subarray(i * entsize, (i + 1) * entsize);
      const w = this.is64 ? 8 : 4;
      out.push({
        name: String(this.u32(s, 0)), // index into the name table until nameSections runs
        type: this.u32(s, 4),
        offset: this.word(s, 8 + 2 * w),
        size: this.word(s, 8 + 3 * w),
        link: this.u32(s, 8 + 4 * w),
        info: this.u32(s, 12 + 4 * w),
        align: this.word(s, 16 + 4 * w),
      });
    }
    return out;
  }

  private nameSections(sections: RawSection[], names: RawSection | undefined): void {
    const table = names && names.type !== SHT_NOBITS ? this.bytes(names.offset, names.size, 'section name table') : undefined;
    for (const s of sections) s.name = table ? cString(table, Number(s.name)) : '';
  }

  /** DT_* entries; strings are found by mapping DT_STRTAB's address through PT_LOAD, so stripped section headers do not matter. */
  private dynamic(segments: Segment[], sections: RawSection[]) {
    const result = { needed: [] as string[], runpath: [] as string[], rpath: [] as string[], soname: undefined as string | undefined, flags1: 0 };
    const dynSegment = segments.find((s) => s.type === PT_DYNAMIC);
    const dynSection = sections.find((s) => s.type === SHT_DYNAMIC);
    const where = dynSegment ? { offset: dynSegment.offset, size: dynSegment.filesz } : dynSection;
    if (!where) return result;
    const table = this.bytes(where.offset, where.size, 'dynamic section');
    const entsize = this.is64 ? 16 : 8;
    const entries: [number, number][] = [];
    for (let off = 0; off + entsize <= table.length; off += entsize) {
      const tag = this.word(table, off);
      if (tag === DT_NULL) break;
      entries.push([tag, this.word(table, off + entsize / 2)]);
    }
    const value = (tag: number) => entries.find(([t]) => t === tag)?.[1];
    const strtabAddr = value(DT_STRTAB);
    if (strtabAddr === undefined) return result;
    const strtabOffset = this.mapAddress(segments, strtabAddr) ?? (dynSection ? sections[dynSection.link]?.offset : undefined);
    if (strtabOffset === undefined) this.corrupt(`DT_STRTAB address 0x${strtabAddr.toString(16)} is not inside any loadable segment`);
    const strings = this.bytes(strtabOffset, Math.min(value(DT_STRSZ) ?? this.src.size - strtabOffset, this.src.size - strtabOffset), 'dynamic string table');
    const str = (index: number) => {
      if (index >= strings.length) this.corrupt(`dynamic string index ${index} is past the string table`);
      return cString(strings, index);
    };
    const paths = (s: string) => s.split(':').filter((p) => p.length > 0);
    for (const [tag, val] of entries) {
      if (tag === DT_NEEDED) result.needed.push(str(val));
      else if (tag === DT_SONAME) result.soname = str(val);
      else if (tag === DT_RPATH) result.rpath.push(...paths(str(val)));
      else if (tag === DT_RUNPATH) result.runpath.push(...paths(str(val)));
      else if (tag === DT_FLAGS_1) result.flags1 = val;
    }
    return result;
  }

  private mapAddress(segments: Segment[], addr: number): number | undefined {
    const load = segments.find((s) => s.type === PT_LOAD && addr >= s.vaddr && addr < s.vaddr + s.filesz);
    return load ? load.offset + (addr - load.vaddr) : undefined;
  }

  /** Notes from PT_NOTE segments, plus SHT_NOTE sections no segment covers (e.g. in a .ko). */
  private notes(segments: Segment[], sections: RawSection[]): ElfNote[] {
    const ranges = segments.filter((s) => s.type === PT_NOTE).map((s) => ({ offset: s.offset, size: s.filesz, align: s.align }));
    const covered = (offset: number) => ranges.some((r) => offset >= r.offset && offset < r.offset + r.size);
    for (const s of sections) if (s.type === SHT_NOTE && !covered(s.offset)) ranges.push({ offset: s.offset, size: s.size, align: s.align });
    return ranges.flatMap((r) => this.parseNotes(this.bytes(r.offset, r.size, 'note'), r.align === 8 ? 8 : 4));
  }

  /** A malformed note ends the list quietly: notes are informational, never needed to run. */
  private parseNotes(data: Buffer, align: number): ElfNote[] {
    const notes: ElfNote[] = [];
    const up = (n: number) => Math.ceil(n / align) * align;
    let off = 0;
    while (off + 12 <= data.length) {
      const namesz = this.u32(data, off), descsz = this.u32(data, off + 4), type = this.u32(data, off + 8);
      const descOff = off + up(12 + namesz);
      if (off + 12 + namesz > data.length || descOff + descsz > data.length) break;
      const name = data.subarray(off + 12, off + 12 + namesz).toString('latin1').replace(/\0+$/, '');
      notes.push({ name, type, desc: Buffer.from(data.subarray(descOff, descOff + descsz)) });
      off = off + up(descOff - off + descsz);
    }
    return notes;
  }

  private checkRange(offset: number, length: number, what: string): void {
    if (offset + length > this.src.size) {
      this.corrupt(`its ${what} (bytes ${offset}..${offset + length}) lies past the end of the file (${this.src.size} bytes); the file is probably truncated`);
    }
  }

  private bytes(offset: number, length: number, what: string): Buffer {
    this.checkRange(offset, length, what);
    const buf = this.src.read(offset, length);
    if (buf.length < length) this.corrupt(`could not read its ${what}`);
    return buf;
  }

  private corrupt(reason: string): never {
    throw new KilnError(ErrorCodes.APP_NOT_ELF, `${this.path} is a damaged ELF file: ${reason}`, {
      hint: 'rebuild or reinstall the file; an interrupted download or copy often leaves a truncated file',
    });
  }

  private u16(b: Buffer, off: number): number {
    return this.le ? b.readUInt16LE(off) : b.readUInt16BE(off);
  }

  private u32(b: Buffer, off: number): number {
    return this.le ? b.readUInt32LE(off) : b.readUInt32BE(off);
  }

  /** An address-sized field. 64-bit values above 2^53 lose precision, which only matters for values we never use as offsets. */
  private word(b: Buffer, off: number): number {
    if (!this.is64) return this.u32(b, off);
    return Number(this.le ? b.readBigUInt64LE(off) : b.readBigUInt64BE(off));
  }
}

function cString(buf: Buffer, start: number): string {
  const end = buf.indexOf(0, start);
  return buf.subarray(start, end === -1 ? buf.length : end).toString('utf8');
}
