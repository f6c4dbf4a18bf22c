/*
 * Ferry firmware-stub, ring 3: what every CPU runs after its first drop from ring 0.
 * The BSP reads the configuration, starts the APs and runs the selected mode; APs check in and
 * join the workload.
 */
#include "user.h"

#define AP_CHECKIN_TIMEOUT_MS 1000

extern const char ap_tramp_start[], ap_tramp_end[];

static volatile u32 cpus_online = 1;
static volatile u8 cpu_online[FERRY_MAX_CPUS];

static __attribute__((noreturn)) void ap_main(u32 cpu)
{
    cpu_online[cpu] = 1;
    __atomic_fetch_add(&cpus_online, 1, __ATOMIC_RELEASE);
    workload_ap(cpu);
    sys_halt();
}

/* Copy the real-mode trampoline below 1 MiB (ring 3 may: all RAM is user-mapped), send
 * INIT-SIPI-SIPI from ring 0, and wait, bounded by the TSC, until every AP has checked in. */
static u32 start_aps(void)
{
    memcpy((void *)FERRY_AP_TRAMPOLINE, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
    sys1(SYS_START_APS, FERRY_AP_TRAMPOLINE >> 12);
    u64 start = rdtsc(), limit = AP_CHECKIN_TIMEOUT_MS * boot_info.tsc_khz;
    while (__atomic_load_n(&cpus_online, __ATOMIC_ACQUIRE) < cfg.ncpus && rdtsc() - start < limit)
        cpu_relax();
    return __atomic_load_n(&cpus_online, __ATOMIC_ACQUIRE);
}

static __attribute__((noreturn)) void bsp_main(void)
{
    config_read();
    print("ferry: cpus=%u ram_mib=%lu mode=%s\n", cfg.ncpus, (cfg.ram_bytes + (1 << 19)) >> 20,
          mode_names[cfg.mode]);
    if (boot_info.tsc_deadline)
        print("ferry: tsc_khz=%lu via %s timer=tsc-deadline\n", boot_info.tsc_khz, boot_info.tsc_method);
    else
        print("ferry: tsc_khz=%lu via %s timer=oneshot apic_khz=%lu\n", boot_info.tsc_khz,
              boot_info.tsc_method, boot_info.apic_timer_khz);

    if (cfg.mode == MODE_TRIPLEFAULT) {
        print("ferry: triple fault requested\n");
        sys0(SYS_TRIPLE_FAULT);
    }
    if (cfg.migration_target) {
        /* The incoming migration replaces this VM's state; the helper (a later stage) will be
         * prepared here. Run nothing that touches workload RAM. */
        print("ferry: migration target: waiting for the incoming guest\n");
        sys_halt();
    }

    u32 online = cfg.ncpus > 1 ? start_aps() : 1;
    print("ferry: %u of %u cpus online\n", online, cfg.ncpus);
    workload_bsp(online, cpu_online);
    sys_halt();
}

void user_main(u64 cpu)
{
    if (cpu)
        ap_main((u32)cpu);
    bsp_main();
}
