/*
 * Ferry firmware-stub, ring 0: the few privileged operations. Built with -mgeneral-regs-only
 * so that it never touches the XMM state of the ring-3 code it interrupts.
 *
 * kvm-pvm emulates ring-0 code instruction by instruction (~2 M instructions/s), so this file
 * does only what ring 3 cannot: page tables, descriptor tables, port I/O, MSRs, the local APIC,
 * HLT. Everything else (configuration parsing, the workload, formatting) runs in ring 3 and
 * reaches ring 0 through the UD2 trap (ferry.h, "Trap ABI").
 */
#include "ferry.h"

struct iret_frame {
    u64 rip, cs, rflags, rsp, ss;
};

/* Built by isr_common in boot.S (pushes in reverse order). */
struct fault_frame {
    u64 rdi, rsi, rbp, rbx, rdx, rcx, rax;
    u64 vector, error;
    struct iret_frame iret;
};

/* 64-bit TSS (SDM Vol. 3A, 8.7, figure 8-11). */
struct tss {
    u32 reserved0;
    u64 rsp0, rsp1, rsp2;
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 iomap_base;
} __attribute__((packed));

/* 64-bit interrupt gate (SDM Vol. 3A, 6.14.1, figure 6-8). */
struct idt_gate {
    u16 offset_lo;
    u16 selector;
    u8 ist;
    u8 type_attr;
    u16 offset_mid;
    u32 offset_hi;
    u32 reserved;
};

struct table_desc {
    u16 limit;
    u64 base;
} __attribute__((packed));

_Static_assert(sizeof(struct tss) == 104, "TSS size");
_Static_assert(sizeof(struct idt_gate) == 16, "gate size");
_Static_assert(__builtin_offsetof(struct boot_info, boot_tsc) == BOOT_INFO_BOOT_TSC, "boot.S");
_Static_assert(__builtin_offsetof(struct boot_info, pages_1g) == BOOT_INFO_PAGES_1G, "boot.S");

extern u64 gdt[];
extern u64 pml4[], pdpt[], pd_pool[];
extern u8 kstacks[];
extern const u64 isr_vectors[32];
extern void isr_timer(void), isr_spurious(void);
extern void enter_user(u64 arg, void (*entry)(u64), u64 stack_top) __attribute__((noreturn));
extern void halt_forever(void) __attribute__((noreturn));
extern void user_main(u64 cpu);

struct boot_info boot_info;

static struct tss tss[FERRY_MAX_CPUS] __attribute__((aligned(16)));
static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));
static struct table_desc idt_desc;
static u8 ustacks[FERRY_MAX_CPUS][USTACK_SIZE] __attribute__((aligned(16)));
static volatile u32 uart_lock;

/* ---- port I/O ---------------------------------------------------------------------------- */

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }

static inline u8 inb(u16 port)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline u32 inl(u16 port)
{
    u32 v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* One REP INSB: KVM completes it in page-sized batches per exit instead of one exit per byte. */
static inline void insb(u16 port, void *buf, u64 n)
{
    __asm__ volatile("rep insb" : "+D"(buf), "+c"(n) : "d"(port) : "memory");
}

static inline void wrmsr(u32 msr, u64 v)
{
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}

static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* ---- UART (16550: poll LSR.THRE before each byte) ----------------------------------------- */

static void uart_write(const char *s, u64 n)
{
    for (u64 i = 0; i < n; i++) {
        while (!(inb(FERRY_UART_PORT + FERRY_UART_REG_LSR) & FERRY_UART_LSR_THRE))
            ;
        outb(FERRY_UART_PORT + FERRY_UART_REG_THR, (u8)s[i]);
    }
}

static void kputs(const char *s) { uart_write(s, strlen(s)); }

static void kput_num(u64 v, unsigned base)
{
    char buf[24];
    int i = sizeof(buf);
    do {
        buf[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    uart_write(buf + i, sizeof(buf) - i);
}

static void serial_lock(void)
{
    while (__atomic_exchange_n(&uart_lock, 1, __ATOMIC_ACQUIRE))
        cpu_relax();
}

static void serial_unlock(void) { __atomic_store_n(&uart_lock, 0, __ATOMIC_RELEASE); }

/* ---- paging ------------------------------------------------------------------------------ */

#define GIB (1ULL << 30)
#define MIB2 (1ULL << 21)

/*
 * boot.S identity-mapped 0..4 GiB. Here: the rest of RAM above 4 GiB, and the fourth GiB again
 * with 2 MiB pages so that only RAM is cacheable there and the LAPIC page is UC (PCD|PWT) and
 * not reachable from ring 3. Cost: a few stores per GiB with 1 GiB pages.
 */
static void paging_map_ram(const struct mb_info *mbi)
{
    u64 top = 4 * GIB, low_top = 3 * GIB;

    if (mbi && (mbi->flags & MBI_FLAG_MMAP)) {
        top = low_top = 0;
        u64 p = mbi->mmap_addr, end = p + mbi->mmap_length;
        while (p < end) {
            const struct mb_mmap_entry *e = (const struct mb_mmap_entry *)p;
            if (e->type == MB_MMAP_AVAILABLE && e->len) {
                u64 last = e->addr + e->len;
                if (last > top)
                    top = last;
                if (e->addr < 4 * GIB && last > low_top)
                    low_top = last < 4 * GIB ? last : 4 * GIB;
            }
            p += e->size + 4;
        }
    } else if (mbi && (mbi->flags & MBI_FLAG_MEM)) {
        top = low_top = (1ULL << 20) + ((u64)mbi->mem_upper << 10);
    }

    /* Fourth GiB: RAM entries, then the LAPIC. */
    u64 *pd3 = pd_pool + 3 * 512;
    unsigned n = low_top > 3 * GIB ? (unsigned)((low_top - 3 * GIB + MIB2 - 1) >> 21) : 0;
    for (unsigned i = 0; i < n; i++)
        pd3[i] = (3 * GIB + ((u64)i << 21)) | PTE_RAM_LARGE;
    if (!boot_info.pages_1g)            /* boot.S pre-filled this table */
        for (unsigned i = n; i < 512; i++)
            pd3[i] = 0;
    pd3[(LAPIC_BASE - 3 * GIB) >> 21] = (LAPIC_BASE & ~(MIB2 - 1)) |
                                        PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT;
    pdpt[3] = (u64)pd3 | PTE_TABLE;

    /* Above 4 GiB. */
    u64 gibs = (top + GIB - 1) >> 30;
    if (gibs > 512)
        gibs = 512;                      /* one PDPT: 512 GiB */
    if (!boot_info.pages_1g && gibs > PD_POOL_PAGES)
        gibs = PD_POOL_PAGES;
    for (u64 g = 4; g < gibs; g++) {
        if (boot_info.pages_1g) {
            pdpt[g] = (g << 30) | PTE_RAM_LARGE;
        } else {
            u64 *pd = pd_pool + g * 512;
            for (unsigned i = 0; i < 512; i++)
                pd[i] = ((g << 30) + ((u64)i << 21)) | PTE_RAM_LARGE;
            pdpt[g] = (u64)pd | PTE_TABLE;
        }
    }
    boot_info.mapped_top = gibs > 4 ? gibs << 30 : 4 * GIB;

    /* PDPT[3] changed from a 1 GiB page to a table: flush (SDM Vol. 3A, 4.10.4). */
    u64 cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) :: "memory");
}

/* ---- descriptor tables ------------------------------------------------------------------- */

static struct idt_gate interrupt_gate(u64 h)
{
    return (struct idt_gate){
        .offset_lo = (u16)h,
        .selector = SEL_KCODE,
        .type_attr = 0x8e,               /* present, DPL 0, 64-bit interrupt gate */
        .offset_mid = (u16)(h >> 16),
        .offset_hi = (u32)(h >> 32),
    };
}

/* Exceptions 0..31, the timer and the spurious vector; the gates between them stay not present,
 * so an unexpected interrupt is a fatal #NP naming its vector. */
static void idt_init(void)
{
    for (int v = 0; v < 32; v++)
        idt[v] = interrupt_gate(isr_vectors[v]);
    idt[TIMER_VECTOR] = interrupt_gate((u64)isr_timer);
    idt[SPURIOUS_VECTOR] = interrupt_gate((u64)isr_spurious);
    idt_desc.limit = sizeof(idt) - 1;
    idt_desc.base = (u64)idt;
}

static u64 kstack_top(u32 cpu) { return (u64)kstacks + (u64)(cpu + 1) * KSTACK_SIZE; }

/* Per CPU: its TSS (RSP0 = its ring-0 stack for traps from ring 3), TR and the shared IDT. */
static void cpu_setup(u32 cpu)
{
    struct tss *t = &tss[cpu];
    t->rsp0 = kstack_top(cpu);
    t->iomap_base = sizeof(*t);          /* no I/O bitmap: ring-3 port access faults */

    u64 base = (u64)t, limit = sizeof(*t) - 1;
    /* 64-bit TSS descriptor, type 9 = available (SDM Vol. 3A, 8.2.3, figure 8-4). */
    gdt[GDT_FIXED_ENTRIES + 2 * cpu] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
                                       (0x89ULL << 40) | (((limit >> 16) & 0xf) << 48) |
                                       (((base >> 24) & 0xff) << 56);
    gdt[GDT_FIXED_ENTRIES + 2 * cpu + 1] = base >> 32;
    __asm__ volatile("ltr %w0" :: "r"((u16)(SEL_TSS0 + 16 * cpu)));
    __asm__ volatile("lidt %0" :: "m"(idt_desc));
}

static u32 current_cpu(void)
{
    u16 tr;
    __asm__ volatile("str %0" : "=r"(tr));
    return tr >= SEL_TSS0 ? (u32)(tr - SEL_TSS0) / 16 : 0;
}

/* ---- TSC frequency ------------------------------------------------------------------------ */

/* KVM pvclock (Documentation/virt/kvm/x86/msr.rst, MSR_KVM_SYSTEM_TIME_NEW). */
struct pvclock_time_info {
    u32 version;
    u32 pad0;
    u64 tsc_timestamp;
    u64 system_time;
    u32 tsc_to_system_mul;
    int8_t tsc_shift;
    u8 flags;
    u8 pad[2];
};

#define KVM_CPUID_SIGNATURE     0x40000000
#define KVM_CPUID_FEATURES      0x40000001
#define CPUID_TSC_FREQ_LEAF     0x40000010  /* "VMware timing leaf": EAX = TSC kHz */
#define KVM_FEATURE_CLOCKSOURCE2 (1 << 3)
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define PIT_HZ                  1193182
#define PIT_CAL_COUNT           11932       /* ~10 ms */

/* Written by KVM only between enabling and disabling it below, and kept in the image so it
 * never lands in workload RAM. */
static struct pvclock_time_info pvclock __attribute__((aligned(64)));

static u64 tsc_khz_kvmclock(void)
{
    volatile struct pvclock_time_info *pv = &pvclock;
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (u64)&pvclock | 1);
    u32 mul = 0;
    int shift = 0;
    /* KVM fills the structure before the next guest entry; an odd or zero version means an
     * update is in progress or has not happened yet. */
    for (int tries = 0; tries < 1000 && !mul; tries++) {
        u32 ver = pv->version;
        if (ver == 0 || (ver & 1))
            continue;
        mul = pv->tsc_to_system_mul;
        shift = pv->tsc_shift;
        if (pv->version != ver)
            mul = 0;
    }
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);   /* stop the host writing guest memory */
    if (!mul)
        return 0;
    /* ns = ((tsc << shift) * mul) >> 32, so kHz = 10^6 * 2^32 / mul / 2^shift. */
    u64 khz = (1000000ULL << 32) / mul;
    return shift < 0 ? khz << -shift : khz >> shift;
}

/* PIT channel 2, mode 0, gated by port 0x61 (8254 data sheet; port 0x61 bit 0 = gate,
 * bit 5 = OUT2). Costs ~10 ms and a few hundred exits: the last resort. */
static u64 tsc_khz_pit(void)
{
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);
    outb(0x43, 0xb0);                    /* channel 2, lobyte/hibyte, mode 0, binary */
    outb(0x42, PIT_CAL_COUNT & 0xff);
    outb(0x42, PIT_CAL_COUNT >> 8);
    u64 t0 = rdtsc();
    u32 spins = 0;
    while (!(inb(0x61) & 0x20) && ++spins < 1000000)
        ;
    u64 t1 = rdtsc();
    if (spins < 2 || spins >= 1000000)
        return 0;
    return (t1 - t0) * PIT_HZ / ((u64)PIT_CAL_COUNT * 1000);
}

static void tsc_calibrate(void)
{
    u32 a, b, c, d, max = 0, sig[3] = {0, 0, 0};
    cpuid(1, &a, &b, &c, &d);
    if (c & (1u << 31))                  /* CPUID.1:ECX[31] = running under a hypervisor */
        cpuid(KVM_CPUID_SIGNATURE, &max, &sig[0], &sig[1], &sig[2]);
    if (max >= CPUID_TSC_FREQ_LEAF && max < KVM_CPUID_SIGNATURE + 0x100) {
        cpuid(CPUID_TSC_FREQ_LEAF, &a, &b, &c, &d);
        if (a) {
            boot_info.tsc_khz = a;
            boot_info.tsc_method = "cpuid-0x40000010";
            return;
        }
    }
    /* "KVMKVMKVM\0\0\0" */
    if (sig[0] == 0x4b4d564b && sig[1] == 0x564b4d56 && sig[2] == 0x4d && max >= KVM_CPUID_FEATURES) {
        cpuid(KVM_CPUID_FEATURES, &a, &b, &c, &d);
        if (a & KVM_FEATURE_CLOCKSOURCE2) {
            boot_info.tsc_khz = tsc_khz_kvmclock();
            if (boot_info.tsc_khz) {
                boot_info.tsc_method = "kvmclock";
                return;
            }
        }
    }
    boot_info.tsc_khz = tsc_khz_pit();
    boot_info.tsc_method = "pit";
    if (!boot_info.tsc_khz) {
        boot_info.tsc_khz = 1000000;
        boot_info.tsc_method = "guess (no pit)";
    }
}

/* ---- APs, faults, triple fault ------------------------------------------------------------ */

static inline volatile u32 *lapic_reg(u32 off) { return (volatile u32 *)(u64)(LAPIC_BASE + off); }

static void lapic_icr(u32 lo)
{
    *lapic_reg(LAPIC_ICR_HI) = 0;        /* destination unused with a shorthand */
    *lapic_reg(LAPIC_ICR_LO) = lo;
    for (int i = 0; i < 1000 && (*lapic_reg(LAPIC_ICR_LO) & ICR_SEND_PENDING); i++)
        ;
}

/*
 * INIT, SIPI, SIPI to all but self (SDM Vol. 3A, 8.4.4.1). The MP-spec delays (10 ms after INIT,
 * 200 us after SIPI) are for physical CPUs; KVM's local APIC applies the pending INIT before the
 * SIPI and ignores a SIPI to a running vCPU, and a 10 ms busy wait would cost ~20k emulated
 * instructions here.
 */
static void start_aps(u64 vector)
{
    *lapic_reg(LAPIC_SVR) |= 0x100;      /* APIC software enable */
    lapic_icr(ICR_ALL_BUT_SELF | ICR_LEVEL_ASSERT | ICR_INIT);
    lapic_icr(ICR_ALL_BUT_SELF | ICR_LEVEL_ASSERT | ICR_STARTUP | (u32)(vector & 0xff));
    lapic_icr(ICR_ALL_BUT_SELF | ICR_LEVEL_ASSERT | ICR_STARTUP | (u32)(vector & 0xff));
}

/* ---- the LAPIC timer: how an idle CPU sleeps ----------------------------------------------- */

/*
 * Per CPU: the APIC enabled with its spurious vector, LINT0/LINT1 masked (KVM wires the BSP's
 * LINT0 to the PIC as ExtINT, which nothing here has programmed), the timer on TIMER_VECTOR in
 * TSC-deadline mode where CPUID offers it (SDM Vol. 3A, 10.5.4.1), else one-shot at divide 1.
 * Ring 3 runs with IF = 0, so the timer is only ever taken inside SYS_SLEEP.
 */
static void lapic_timer_setup(void)
{
    *lapic_reg(LAPIC_SVR) = SVR_APIC_ENABLE | SPURIOUS_VECTOR;
    *lapic_reg(LAPIC_LVT_LINT0) = LVT_MASKED;
    *lapic_reg(LAPIC_LVT_LINT1) = LVT_MASKED;
    if (boot_info.tsc_deadline) {
        *lapic_reg(LAPIC_LVT_TIMER) = LVT_TIMER_TSC_DEADLINE | TIMER_VECTOR;
    } else {
        *lapic_reg(LAPIC_TIMER_DIV) = LAPIC_TIMER_DIV_1;
        *lapic_reg(LAPIC_LVT_TIMER) = LVT_TIMER_ONESHOT | TIMER_VECTOR;
    }
}

/* One-shot mode needs the timer's rate: count it down, masked, for 1 ms of TSC (calibrated). */
static void lapic_timer_calibrate(void)
{
    u32 a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    boot_info.tsc_deadline = (c & CPUID_1_ECX_TSC_DEADLINE) != 0;
    if (boot_info.tsc_deadline)
        return;
    *lapic_reg(LAPIC_SVR) = SVR_APIC_ENABLE | SPURIOUS_VECTOR;
    *lapic_reg(LAPIC_TIMER_DIV) = LAPIC_TIMER_DIV_1;
    *lapic_reg(LAPIC_LVT_TIMER) = LVT_MASKED | LVT_TIMER_ONESHOT | TIMER_VECTOR;
    *lapic_reg(LAPIC_TIMER_INIT) = 0xffffffff;
    u64 t0 = rdtsc();
    while (rdtsc() - t0 < boot_info.tsc_khz)
        ;
    u32 left = *lapic_reg(LAPIC_TIMER_CUR);
    u64 t1 = rdtsc();
    *lapic_reg(LAPIC_TIMER_INIT) = 0;
    boot_info.apic_timer_khz = (0xffffffffULL - left) * boot_info.tsc_khz / (t1 - t0);
    if (!boot_info.apic_timer_khz)
        boot_info.apic_timer_khz = 1;
}

/*
 * Halt until the TSC reaches `deadline`: arm the timer, then STI; HLT (STI's one-instruction
 * shadow means an interrupt already pending wakes the HLT rather than slipping in before it,
 * SDM Vol. 2B, STI). isr_timer acknowledges it and returns after the HLT. About 30 emulated
 * instructions here besides the trap itself; a stale timer interrupt only makes one HLT return
 * early, and the caller just asks again.
 */
static void sleep_until(u64 deadline)
{
    if (boot_info.tsc_deadline) {
        wrmsr(MSR_IA32_TSC_DEADLINE, deadline);
    } else {
        u64 now = rdtsc();
        if ((int64_t)(deadline - now) <= 0)
            return;
        u64 count = (deadline - now) * boot_info.apic_timer_khz / boot_info.tsc_khz + 1;
        *lapic_reg(LAPIC_TIMER_INIT) = count > 0xffffffff ? 0xffffffff : (u32)count;
    }
    __asm__ volatile("sti; hlt; cli" ::: "memory");
}

static __attribute__((noreturn)) void triple_fault(void)
{
    static const struct table_desc none = {0, 0};
    /* With a zero-limit IDT the #UD cannot be delivered: #GP, then #DF, then shutdown
     * (SDM Vol. 3A, 6.15, interrupt 8). */
    __asm__ volatile("lidt %0; ud2" :: "m"(none));
    __builtin_unreachable();
}

/* Stop the machine after a fatal error: debug-exit (QEMU isa-debug-exit, Ferry), then the Ferry
 * power-off request, then halt this CPU. */
static __attribute__((noreturn)) void stop_machine(u8 status)
{
    outb(FERRY_DEBUG_EXIT_PORT, status);
    outl(FERRY_SYSCTL_PORT + FERRY_SYSCTL_REG_ACTION, FERRY_SYSCTL_ACTION_POWEROFF);
    halt_forever();
}

static __attribute__((noreturn)) void fatal(u64 vector, u64 error, const struct iret_frame *f)
{
    u64 cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    /* Take the UART lock, but do not hang if the fault happened while it was held. */
    for (int i = 0; i < 100000 && __atomic_exchange_n(&uart_lock, 1, __ATOMIC_ACQUIRE); i++)
        cpu_relax();
    kputs("ferry: exception ");
    kput_num(vector, 10);
    kputs(" at rip=0x");
    kput_num(f->rip, 16);
    kputs(" cpu=");
    kput_num(current_cpu(), 10);
    kputs(" ring=");
    kput_num(f->cs & 3, 10);
    kputs(" error=0x");
    kput_num(error, 16);
    kputs(" cr2=0x");
    kput_num(cr2, 16);
    kputs(" rsp=0x");
    kput_num(f->rsp, 16);
    kputs("\n");
    serial_unlock();
    stop_machine(FERRY_EXIT_FATAL_EXCEPTION);
}

void kfatal_trap(struct fault_frame *f) { fatal(f->vector, f->error, &f->iret); }

/* The ring-3 system call (ferry.h, "Trap ABI"), entered from isr_ud. */
u64 ksyscall(u64 a, u64 b, u64 c, struct iret_frame *f, u64 nr)
{
    const u8 *ip = (const u8 *)f->rip;
    if (ip[0] != 0x0f || ip[1] != 0x0b)  /* a genuine invalid opcode, not our UD2 */
        fatal(6, 0, f);
    f->rip += 2;

    switch (nr) {
    case SYS_WRITE:
        serial_lock();
        uart_write((const char *)a, b);
        serial_unlock();
        return 0;
    case SYS_FWCFG_READ:
        if (a < FWCFG_NO_SELECT)
            outw(FERRY_FW_CFG_PORT_SEL, (u16)a);
        insb(FERRY_FW_CFG_PORT_DATA, (void *)b, c);
        return 0;
    case SYS_PAGE_STATE:
        outl(FERRY_PAGE_STATE_PORT + FERRY_PAGE_STATE_REG_GPA_LO, (u32)a);
        outl(FERRY_PAGE_STATE_PORT + FERRY_PAGE_STATE_REG_GPA_HI, (u32)(a >> 32));
        outl(FERRY_PAGE_STATE_PORT + FERRY_PAGE_STATE_REG_COUNT, (u32)b);
        outl(FERRY_PAGE_STATE_PORT + FERRY_PAGE_STATE_REG_CMD, (u32)c);
        return inl(FERRY_PAGE_STATE_PORT + FERRY_PAGE_STATE_REG_CMD);
    case SYS_PAGE_STATE_STATUS:
        return inl(FERRY_PAGE_STATE_PORT + FERRY_PAGE_STATE_REG_CMD);
    case SYS_SYSCTL_POLL:
        return inl(FERRY_SYSCTL_PORT + FERRY_SYSCTL_REG_PENDING);
    case SYS_SYSCTL_ACTION:
        outl(FERRY_SYSCTL_PORT + FERRY_SYSCTL_REG_ACTION, (u32)a);
        return 0;
    case SYS_DEBUG_EXIT:
        outb(FERRY_DEBUG_EXIT_PORT, (u8)a);
        return 0;
    case SYS_HALT:
        halt_forever();
    case SYS_START_APS:
        start_aps(a);
        return 0;
    case SYS_TRIPLE_FAULT:
        triple_fault();
    case SYS_SLEEP:
        sleep_until(a);
        return 0;
    default:
        return ~0ULL;
    }
}

/* ---- entry points ------------------------------------------------------------------------- */

static u64 ustack_top(u32 cpu) { return (u64)ustacks[cpu] + USTACK_SIZE; }

void kmain_bsp(u32 magic, u32 mbi)
{
    kputs("Ferry firmware-stub 0.1 (multiboot)\n");
    boot_info.mb_magic = magic;
    boot_info.mb_info = mbi;
    paging_map_ram(magic == MB_LOADER_MAGIC ? (const struct mb_info *)(u64)mbi : 0);
    idt_init();
    cpu_setup(0);
    tsc_calibrate();
    lapic_timer_calibrate();
    lapic_timer_setup();
    enter_user(0, user_main, ustack_top(0));
}

void kmain_ap(u32 cpu)
{
    cpu_setup(cpu);
    lapic_timer_setup();
    enter_user(cpu, user_main, ustack_top(cpu));
}
