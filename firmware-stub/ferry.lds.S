/*
 * Ferry firmware-stub linker script (preprocessed with cpp so that it shares ferry_layout.h).
 * Linked as elf64-x86-64, then converted to ELF32 (objcopy -O elf32-i386) because QEMU's
 * Multiboot loader refuses ELF64 (hw/i386/multiboot.c: "Cannot load x86-64 image").
 *
 *   FERRY_IMAGE_BASE   .text (Multiboot header first), .rodata, .ferry_layout, .data, .bss
 *   __image_end        page-aligned end of the guest-role image
 *   helper region      next FERRY_HELPER_REGION_ALIGN boundary, FERRY_HELPER_REGION_SIZE bytes:
 *                      helper code, secret page, mailboxes; the rest of it is zero-filled memory
 *                      that the loader reserves (NOBITS), so nothing else is placed there
 *   __helper_region_end = workload_base: the guest workload's RAM starts here
 */
#include "ferry_layout.h"

OUTPUT_FORMAT("elf64-x86-64")
OUTPUT_ARCH(i386:x86-64)
ENTRY(_start32)

PHDRS
{
    image PT_LOAD FLAGS(7);
    helper PT_LOAD FLAGS(7);
}

SECTIONS
{
    . = FERRY_IMAGE_BASE;
    __image_start = .;

    /* Multiboot spec 3.1.1: the header must lie in the first 8192 bytes of the file. */
    .text : {
        KEEP(*(.multiboot))
        *(.text.boot)
        *(.text .text.*)
    } :image
    .rodata : { *(.rodata .rodata.*) } :image
    /* The table the VMM reads (layout.def). Its own section so that it keeps this name. */
    .ferry_layout : { KEEP(*(.ferry_layout)) } :image
    .data : { *(.data .data.*) } :image
    .bss : {
        *(.bss .bss.*)
        *(COMMON)
    } :image
    . = ALIGN(4096);
    __image_end = .;

    . = ALIGN(FERRY_HELPER_REGION_ALIGN);
    __helper_region_start = .;
    .helper : { KEEP(*(.helper.text)) } :helper
    .helper_reserved (NOLOAD) : {
        . += FERRY_HELPER_REGION_SIZE - SIZEOF(.helper);
    } :helper
    __helper_region_end = __helper_region_start + FERRY_HELPER_REGION_SIZE;

    /DISCARD/ : {
        *(.note .note.*)
        *(.comment)
        *(.eh_frame .eh_frame_hdr)
    }
}

ASSERT(__helper_region_end == ADDR(.helper_reserved) + SIZEOF(.helper_reserved),
       "helper region size mismatch")
ASSERT(ADDR(.helper) + SIZEOF(.helper) <= __helper_region_start + FERRY_SECRET_PAGE_OFFSET,
       "helper code overlaps the secret page")
