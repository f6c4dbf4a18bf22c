/*
 * Ferry firmware-stub, ring 3: system-call wrappers and shared declarations of the workload side.
 */
#ifndef FERRY_USER_H
#define FERRY_USER_H

#include "ferry.h"
#include <stdarg.h>

/* The UD2 trap (ferry.h, "Trap ABI"). */
static inline u64 sys3(u64 nr, u64 a, u64 b, u64 c)
{
    __asm__ volatile("ud2"
                     : "+a"(nr), "+D"(a), "+S"(b), "+d"(c)
                     :
                     : "rcx", "r8", "r9", "r10", "r11", "memory", "cc");
    return nr;
}

static inline u64 sys0(u64 nr) { return sys3(nr, 0, 0, 0); }
static inline u64 sys1(u64 nr, u64 a) { return sys3(nr, a, 0, 0); }

static inline void __attribute__((noreturn)) sys_halt(void)
{
    sys0(SYS_HALT);
    __builtin_unreachable();
}

/* Halts this CPU until the TSC reaches `tsc`: the vCPU gives its host core back meanwhile. */
static inline void sys_sleep_until(u64 tsc)
{
    if ((int64_t)(tsc - rdtsc()) > 0)
        sys1(SYS_SLEEP, tsc);
}

enum mode { MODE_WORKLOAD, MODE_SELFTEST, MODE_IDLE, MODE_TRIPLEFAULT };

#define MAX_RAM_RANGES 32

struct ram_range {
    u64 base, end;
};

struct config {
    /* machine */
    u32 ncpus;                  /* from fw_cfg, 1 without it */
    int have_fwcfg;
    int page_state_port;        /* report page states through port I/O */
    int migration_target;
    u64 ram_bytes;              /* sum of available RAM */
    struct ram_range ram[MAX_RAM_RANGES];
    u32 nram;
    /* command line */
    enum mode mode;
    u64 mem_mib;
    u64 rate_mib_s;
    u64 shared_pct;
    u64 hb_ms;
    u64 tick_ms;                /* paced visits come in bursts this far apart; 0 = busy-wait */
};

extern struct config cfg;
extern const char *const mode_names[];

/* config.c */
void config_read(void);

/* ulib.c */
int vfmt(char *buf, size_t cap, const char *f, va_list ap);
int fmt(char *buf, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
void print(const char *f, ...) __attribute__((format(printf, 1, 2)));
int str_eq(const char *a, const char *b);
int parse_u64(const char *s, u64 *out);

/* workload.c */
void workload_bsp(u32 online, const volatile u8 *cpu_online);
void workload_ap(u32 cpu);

static inline u64 tsc_ms(u64 ticks) { return ticks / boot_info.tsc_khz; }

#endif /* FERRY_USER_H */
