/*
 * Ferry firmware-stub: definitions shared by the assembly, the ring-0 kernel and the ring-3
 * workload. ABI shared with the VMM lives in layout.def (generated ferry_layout.h), not here.
 */
#ifndef FERRY_H
#define FERRY_H

#include "ferry_layout.h"

/* GDT selectors (the GDT itself is in boot.S). */
#define SEL_KCODE       0x08
#define SEL_KDATA       0x10
#define SEL_UDATA       0x18
#define SEL_UCODE       0x20
#define SEL_TSS0        0x28    /* CPU i uses SEL_TSS0 + 16*i (64-bit TSS descriptors are 16 bytes) */
#define GDT_FIXED_ENTRIES 5

/* Control registers and MSRs (Intel SDM Vol. 3A, 2.5 and 2.2.1). */
#define CR0_PE          (1 << 0)
#define CR0_MP          (1 << 1)
#define CR0_EM          (1 << 2)
#define CR0_NE          (1 << 5)
#define CR0_NW          (1 << 29)
#define CR0_CD          (1 << 30)
#define CR0_PG          0x80000000
#define CR4_PAE         (1 << 5)
#define CR4_OSFXSR      (1 << 9)    /* FXSAVE/SSE enabled: ring-3 code is compiled with SSE2 */
#define CR4_OSXMMEXCPT  (1 << 10)
#define CR4_BOOT        (CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT)
#define CR0_BOOT_SET    (CR0_PE | CR0_MP | CR0_NE | CR0_PG)
#define MSR_EFER        0xc0000080
#define EFER_LME        (1 << 8)

/* Page-table entry bits (Intel SDM Vol. 3A, 4.5, tables 4-15..4-20). */
#define PTE_P           0x001
#define PTE_W           0x002
#define PTE_U           0x004
#define PTE_PWT         0x008
#define PTE_PCD         0x010
#define PTE_PS          0x080
#define PTE_RAM_LARGE   (PTE_P | PTE_W | PTE_U | PTE_PS)   /* identity RAM, ring 3 may touch it */
#define PTE_TABLE       (PTE_P | PTE_W | PTE_U)
#define PD_POOL_PAGES   16      /* 2 MiB-page tables for 16 GiB when the CPU lacks 1 GiB pages */

/* Offsets into struct boot_info that boot.S writes (checked in kernel.c). */
#define BOOT_INFO_BOOT_TSC  0
#define BOOT_INFO_PAGES_1G  40

/* Per-CPU stacks. The ring-0 stack only serves the boot path and traps. */
#define KSTACK_SHIFT    12
#define KSTACK_SIZE     (1 << KSTACK_SHIFT)
#define USTACK_SIZE     (16 * 1024)

/* Local APIC, xAPIC MMIO mode (Intel SDM Vol. 3A, 10.4 and 10.6.1). */
#define LAPIC_BASE      0xfee00000
#define LAPIC_SVR       0x0f0
#define LAPIC_ICR_LO    0x300
#define LAPIC_ICR_HI    0x310
#define ICR_ALL_BUT_SELF (3 << 18)
#define ICR_LEVEL_ASSERT (1 << 14)
#define ICR_SEND_PENDING (1 << 12)
#define ICR_INIT        (5 << 8)
#define ICR_STARTUP     (6 << 8)
#define LAPIC_EOI       0x0b0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_TIMER_INIT 0x380  /* initial count (one-shot mode) */
#define LAPIC_TIMER_CUR 0x390   /* current count */
#define LAPIC_TIMER_DIV 0x3e0   /* divide configuration */
#define LAPIC_TIMER_DIV_1 0xb   /* SDM Vol. 3A, figure 10-10: divide by 1 */
#define SVR_APIC_ENABLE (1 << 8)
#define LVT_MASKED      (1 << 16)
#define LVT_TIMER_ONESHOT      (0 << 17)
#define LVT_TIMER_TSC_DEADLINE (2 << 17)  /* SDM Vol. 3A, 10.5.4.1 */
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)

/* Interrupt vectors: only the LAPIC timer (it wakes a sleeping CPU, see SYS_SLEEP) and the
 * APIC's spurious vector. The IDT ends at IDT_VECTORS and its other gates from 0x20 on are not
 * present: any other vector is fatal, #NP below IDT_VECTORS and #GP above. */
#define TIMER_VECTOR    0x20
#define SPURIOUS_VECTOR 0x2f
#define IDT_VECTORS     0x30

/*
 * Trap ABI (ring 3 -> ring 0). The instruction is UD2 (0F 0B); the #UD handler treats a UD2 in
 * ring 3 as a call: RAX = number, RDI/RSI/RDX = arguments, result in RAX. RCX, R8-R11 and the
 * argument registers are clobbered; everything else (including all XMM state: ring 0 is built
 * with -mgeneral-regs-only) is preserved. RIP is advanced past the UD2.
 */
#define SYS_WRITE             0   /* (buf, len): bytes to the UART, one lock hold */
#define SYS_FWCFG_READ        1   /* (key or FWCFG_NO_SELECT, buf, len) */
#define SYS_PAGE_STATE        2   /* (gpa, pages, attrs) -> status */
#define SYS_PAGE_STATE_STATUS 3   /* () -> status register (0xffffffff: no device) */
#define SYS_SYSCTL_POLL       4   /* () -> pending request bits (0xffffffff: no device) */
#define SYS_SYSCTL_ACTION     5   /* (action) */
#define SYS_DEBUG_EXIT        6   /* (status byte); returns only when no device */
#define SYS_HALT              7   /* () never returns: this CPU stops */
#define SYS_START_APS         8   /* (sipi vector): INIT, SIPI, SIPI to all but self */
#define SYS_TRIPLE_FAULT      9   /* () never returns */
#define SYS_SLEEP             10  /* (tsc): halt this CPU until the TSC reaches tsc (or a little
                                   * later); returns at once if it has */
#define FWCFG_NO_SELECT       0x10000

#ifndef __ASSEMBLER__
#include <stdint.h>
#include <stddef.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

/* What ring 0 learned while booting; read by ring 3. */
struct boot_info {
    u64 boot_tsc;           /* TSC at the first instruction of the BSP */
    u64 tsc_khz;
    const char *tsc_method;
    u32 mb_magic;
    u32 mb_info;            /* physical address of the Multiboot information */
    u64 mapped_top;         /* RAM is identity-mapped below this address */
    u32 pages_1g;           /* 1 GiB pages were used */
    u32 tsc_deadline;       /* the LAPIC timer runs in TSC-deadline mode (else one-shot) */
    u64 apic_timer_khz;     /* one-shot mode: LAPIC timer counts per ms, divide by 1 */
};

/* Multiboot information (Multiboot spec 0.6.96, 3.3). */
#define MB_LOADER_MAGIC     0x2badb002
#define MBI_FLAG_MEM        (1 << 0)
#define MBI_FLAG_CMDLINE    (1 << 2)
#define MBI_FLAG_MMAP       (1 << 6)
#define MB_MMAP_AVAILABLE   1

struct mb_info {
    u32 flags;
    u32 mem_lower, mem_upper;
    u32 boot_device;
    u32 cmdline;
    u32 mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr;
} __attribute__((packed));

struct mb_mmap_entry {
    u32 size;               /* of the rest of the entry, not counting this field */
    u64 addr, len;
    u32 type;
} __attribute__((packed));

extern struct boot_info boot_info;

/* lib.c (no SSE: usable from both rings) */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

static inline u64 rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

#endif /* __ASSEMBLER__ */
#endif /* FERRY_H */
