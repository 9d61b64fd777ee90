/*
 * The smallest guest that proves QEMU found its firmware: a multiboot kernel (QEMU loads it
 * with -kernel through SeaBIOS and its multiboot_dma.bin ROM) that prints one line on the
 * debug console (port 0xe9, -debugcon) and ends QEMU through isa-debug-exit with status
 * (0x2a << 1) | 1 = 85. Build: gcc -m32 -c nested.S && ld -m elf_i386 -Ttext 0x100000 -e _start.
 */
    .text
    .globl _start
    .align 4
multiboot_header:
    .long 0x1BADB002          /* magic */
    .long 0                   /* flags: an ELF file, so no address fields */
    .long -0x1BADB002         /* checksum: magic + flags + checksum = 0 */
_start:
    mov $message, %esi
print:
    lodsb
    test %al, %al
    jz done
    out %al, $0xe9
    jmp print
done:
    mov $0x2a, %al
    out %al, $0xf4
halt:
    hlt
    jmp halt
message:
    .asciz "kiln nested guest ran\n"
