/*
 * The layout table the VMM reads from the ELF section FERRY_LAYOUT_SECTION (see layout.def and
 * the generated ferry-layout.properties). Addresses come from the linker script.
 */
#include "ferry.h"

extern char __image_start[], __image_end[];
extern char __helper_region_start[], __helper_region_end[];
extern void helper_entry(void);

__attribute__((section(".ferry_layout"), used, aligned(8)))
const struct ferry_layout ferry_layout = {
    .magic = FERRY_LAYOUT_MAGIC,
    .version = FERRY_LAYOUT_VERSION,
    .size = sizeof(struct ferry_layout),
    .image_base = (u64)__image_start,
    .image_end = (u64)__image_end,
    .helper_region_base = (u64)__helper_region_start,
    .helper_region_size = FERRY_HELPER_REGION_SIZE,
    .helper_entry = (u64)helper_entry,
    .mailbox_base = (u64)__helper_region_start + FERRY_MAILBOX_OFFSET,
    .mailbox_size = FERRY_MAILBOX_SIZE,
    .mailbox_count = FERRY_MAILBOX_COUNT,
    .secret_page = (u64)__helper_region_start + FERRY_SECRET_PAGE_OFFSET,
    .workload_base = (u64)__helper_region_end,
    .gen_table_base = (u64)__helper_region_end,
    .ap_trampoline = FERRY_AP_TRAMPOLINE,
};

_Static_assert(FERRY_MAILBOX_OFFSET + FERRY_MAILBOX_COUNT * FERRY_MAILBOX_SIZE <=
               FERRY_HELPER_REGION_SIZE, "mailboxes must fit in the helper region");
_Static_assert(FERRY_SECRET_PAGE_OFFSET + FERRY_PAGE_SIZE <= FERRY_MAILBOX_OFFSET,
               "secret page must not overlap the mailboxes");
