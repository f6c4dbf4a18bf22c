/*
 * Ferry firmware-stub, ring 3: the guest workload.
 *
 * Workload RAM starts at ferry_layout.workload_base. Its first pages hold the generation table
 * (one u32 per workload page: the generation the page must hold); the workload pages follow.
 * Every 4 KiB page describes itself:
 *   qword 0 FERRY_PAGE_MAGIC, 1 page index, 2 generation, 3 its own guest-physical address,
 *   qwords 4..511: seed ^ (i * PATTERN_STEP) with seed = mix64(index << 32 | generation).
 * A visit verifies the whole page against the table, then rewrites it with generation + 1.
 * After a migration, errors=0 and advancing counters show that no page was lost, stale or
 * misplaced.
 */
#include "user.h"

#define PAGE_QWORDS     (FERRY_PAGE_SIZE / 8)
#define HDR_QWORDS      (FERRY_PAGE_OFF_PATTERN / 8)
#define PATTERN_STEP    0x9e3779b97f4a7c15ULL   /* 2^64 / golden ratio: an odd, dense step */
#define ERROR_LINES_PER_SEC 5
#define SELFTEST_MAX_MIB 8
#define SELFTEST_ROUNDS 3
#define SELFTEST_TIMEOUT_MS 60000

typedef u64 v2u64 __attribute__((vector_size(16)));

extern const struct ferry_layout ferry_layout;

/* Written only by its CPU; the BSP sums them racily for the heartbeat. */
struct cpu_stats {
    volatile u64 verified, written, errors, touched;
    volatile u32 done;
    u32 error_lines;
    u64 error_window;
} __attribute__((aligned(64)));

struct wl_range {
    u64 gpa, first, pages;              /* pages [first, first+pages) live at gpa.. */
};

static struct {
    u64 npages;
    u32 *gen;                           /* generation table */
    struct wl_range r[MAX_RAM_RANGES + 1];
    u32 nr;
    u32 nworkers;
    u64 lo[FERRY_MAX_CPUS], hi[FERRY_MAX_CPUS];  /* each CPU's slice of page indices */
    u64 interval;                       /* TSC ticks between visits on one CPU; 0 = unpaced */
    u64 tick;                           /* TSC ticks a paced CPU sleeps past its next visit */
    u64 max_lag;
    u32 rounds;                         /* full rounds before stopping; 0 = forever */
} wl;

static struct cpu_stats stats[FERRY_MAX_CPUS];
static volatile u32 wl_go;
static u32 online_cpus;
static u64 hb_next, hb_ticks, hb_count;

/* SplitMix64's output function (Steele, Lea, Flood, OOPSLA 2014): every input bit affects every
 * output bit, so neighbouring (index, generation) pairs get unrelated patterns. */
static inline u64 mix64(u64 z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void page_fill(u64 *p, u64 idx, u32 gen, u64 gpa)
{
    p[0] = FERRY_PAGE_MAGIC;
    p[1] = idx;
    p[2] = gen;
    p[3] = gpa;
    u64 s = mix64(idx << 32 | gen);
    v2u64 seed = {s, s};
    v2u64 x = {HDR_QWORDS * PATTERN_STEP, (HDR_QWORDS + 1) * PATTERN_STEP};
    const v2u64 step = {2 * PATTERN_STEP, 2 * PATTERN_STEP};
    v2u64 *q = (v2u64 *)(p + HDR_QWORDS);
    for (int i = 0; i < (PAGE_QWORDS - HDR_QWORDS) / 2; i++) {
        q[i] = seed ^ x;
        x += step;
    }
}

/* Number of qwords that differ from what (idx, gen, gpa) prescribes; 0 = page intact. */
static u64 page_check(const u64 *p, u64 idx, u32 gen, u64 gpa)
{
    u64 s = mix64(idx << 32 | gen);
    v2u64 seed = {s, s};
    v2u64 x = {HDR_QWORDS * PATTERN_STEP, (HDR_QWORDS + 1) * PATTERN_STEP};
    const v2u64 step = {2 * PATTERN_STEP, 2 * PATTERN_STEP};
    const v2u64 *q = (const v2u64 *)(p + HDR_QWORDS);
    v2u64 acc = {(p[0] ^ FERRY_PAGE_MAGIC) | (p[1] ^ idx), (p[2] ^ gen) | (p[3] ^ gpa)};
    for (int i = 0; i < (PAGE_QWORDS - HDR_QWORDS) / 2; i++) {
        acc |= q[i] ^ (seed ^ x);
        x += step;
    }
    if (!(acc[0] | acc[1]))
        return 0;
    /* Slow path, only on error: count the bad qwords for the report. */
    u64 bad = (p[0] != FERRY_PAGE_MAGIC) + (p[1] != idx) + (p[2] != gen) + (p[3] != gpa);
    for (u64 i = HDR_QWORDS; i < PAGE_QWORDS; i++)
        bad += p[i] != (s ^ (i * PATTERN_STEP));
    return bad;
}

static u64 page_gpa(u64 idx)
{
    for (u32 i = 0; i < wl.nr; i++)
        if (idx - wl.r[i].first < wl.r[i].pages)
            return wl.r[i].gpa + (idx - wl.r[i].first) * FERRY_PAGE_SIZE;
    return 0;
}

static void report_error(u32 cpu, u64 idx, u64 gpa, u32 gen, const u64 *p, u64 bad)
{
    struct cpu_stats *st = &stats[cpu];
    u64 now = rdtsc();
    if (now - st->error_window > boot_info.tsc_khz * 1000) {
        st->error_window = now;
        st->error_lines = 0;
    }
    if (st->error_lines++ >= ERROR_LINES_PER_SEC)
        return;                          /* still counted in errors= */
    print("ferry: ERROR page=%lu gpa=0x%lx expected_gen=%u found_magic=0x%lx found_index=%lu "
          "found_gen=%lu found_gpa=0x%lx bad_qwords=%lu cpu=%u\n",
          idx, gpa, gen, p[0], p[1], p[2], p[3], bad, cpu);
}

static void touch(u32 cpu, u64 idx)
{
    u64 gpa = page_gpa(idx);
    page_fill((u64 *)gpa, idx, 1, gpa);
    wl.gen[idx] = 1;
    stats[cpu].written++;
    stats[cpu].touched++;
}

static void visit(u32 cpu, u64 idx)
{
    struct cpu_stats *st = &stats[cpu];
    u64 gpa = page_gpa(idx);
    u64 *p = (u64 *)gpa;
    u32 gen = wl.gen[idx];
    u64 bad = page_check(p, idx, gen, gpa);
    if (bad) {
        st->errors++;
        report_error(cpu, idx, gpa, gen, p, bad);
    } else {
        st->verified++;
    }
    gen = gen + 1 ? gen + 1 : 1;
    page_fill(p, idx, gen, gpa);
    wl.gen[idx] = gen;
    st->written++;
    __asm__ volatile("" ::: "memory");
}

/* ---- heartbeat (BSP only) ------------------------------------------------------------------ */

static void heartbeat(u64 now)
{
    u64 verified = 0, written = 0, errors = 0, touched = 0;
    for (u32 c = 0; c < FERRY_MAX_CPUS; c++) {
        verified += stats[c].verified;
        written += stats[c].written;
        errors += stats[c].errors;
        touched += stats[c].touched;
    }
    print("ferry: hb=%lu uptime_ms=%lu cpus=%u touched_mib=%lu pages_verified=%lu "
          "pages_written=%lu errors=%lu\n",
          hb_count++, tsc_ms(now - boot_info.boot_tsc), online_cpus,
          touched * FERRY_PAGE_SIZE >> 20, verified, written, errors);

    u32 req = (u32)sys0(SYS_SYSCTL_POLL);
    if (req != FERRY_SYSCTL_NODEV && (req & FERRY_SYSCTL_REQ_POWERDOWN)) {
        print("ferry: powerdown requested, powering off\n");
        sys1(SYS_SYSCTL_ACTION, FERRY_SYSCTL_ACTION_POWEROFF);
        sys_halt();                      /* no system-control device: nothing else to do */
    }
}

static void hb_tick(u64 now)
{
    if (now < hb_next)
        return;
    heartbeat(now);
    hb_next += hb_ticks;
    if (hb_next <= now)                  /* e.g. after the VM was paused: no burst of lines */
        hb_next = now + hb_ticks;
}

static void hb_start(void)
{
    hb_ticks = cfg.hb_ms * boot_info.tsc_khz;
    u64 now = rdtsc();
    hb_next = now;
    hb_tick(now);                        /* hb=0 before any page is touched */
}

/* ---- workers --------------------------------------------------------------------------------- */

/*
 * Sleeps until `due` plus the burst tick, or until the next heartbeat on the BSP, whichever is
 * first: on waking, the visits owed since `due` run back to back, so a CPU wakes once per tick
 * (not once per page) and halts in between. With tick=0 it busy-waits as before.
 */
static void wait_for(u64 due, int bsp)
{
    if (!wl.tick) {
        cpu_relax();
        return;
    }
    u64 wake = due + wl.tick;
    if (bsp && (int64_t)(hb_next - wake) < 0)
        wake = hb_next;
    sys_sleep_until(wake);
}

/* Touch the CPU's slice (unpaced), then visit it round-robin at the paced rate. */
static void run_worker(u32 cpu, int bsp)
{
    u64 lo = wl.lo[cpu], hi = wl.hi[cpu];
    u64 next_touch = lo, cur = lo, due = rdtsc();
    u32 rounds = 0;

    for (;;) {
        u64 now = rdtsc();
        if (bsp)
            hb_tick(now);
        if (next_touch < hi) {
            touch(cpu, next_touch++);
            continue;
        }
        if (lo == hi) {
            if (wl.rounds)
                break;
            if (bsp)
                sys_sleep_until(hb_next);
            else
                cpu_relax();
            continue;
        }
        if (wl.interval) {
            if ((int64_t)(now - due) < 0) {
                wait_for(due, bsp);
                continue;
            }
            due += wl.interval;
            if ((int64_t)(now - due) > (int64_t)wl.max_lag)
                due = now;               /* fell far behind (VM paused): do not burst */
        }
        visit(cpu, cur);
        if (++cur == hi) {
            cur = lo;
            if (wl.rounds && ++rounds == wl.rounds)
                break;
        }
    }
    stats[cpu].done = 1;
}

static u64 div_up(u64 a, u64 b) { return (a + b - 1) / b; }

/*
 * Lays the workload out over RAM above workload_base (minus the helper region): the generation
 * table first, then `want` pages, capped to what fits. Returns the number of pages.
 */
static u64 workload_layout(u64 want)
{
    u64 base = ferry_layout.workload_base;
    u64 hbase = ferry_layout.helper_region_base;
    u64 hend = hbase + ferry_layout.helper_region_size;
    struct wl_range avail[MAX_RAM_RANGES * 2];
    u32 na = 0;
    u64 total = 0;

    for (u32 i = 0; i < cfg.nram; i++) {
        u64 b = cfg.ram[i].base > base ? cfg.ram[i].base : base;
        u64 e = cfg.ram[i].end;
        b = (b + FERRY_PAGE_SIZE - 1) & ~(u64)(FERRY_PAGE_SIZE - 1);
        e &= ~(u64)(FERRY_PAGE_SIZE - 1);
        /* The helper region is never workload memory, wherever it lies. */
        u64 parts[2][2] = {{b, e < hbase ? e : hbase}, {b > hend ? b : hend, e}};
        for (int k = 0; k < 2; k++) {
            if (parts[k][0] < parts[k][1] && na < MAX_RAM_RANGES * 2) {
                avail[na].gpa = parts[k][0];
                avail[na].pages = (parts[k][1] - parts[k][0]) / FERRY_PAGE_SIZE;
                total += avail[na].pages;
                na++;
            }
        }
    }
    if (!na)
        return 0;
    if (avail[0].gpa != base)
        print("ferry: no RAM at workload_base 0x%lx; generation table at 0x%lx\n", base,
              avail[0].gpa);

    /* n pages need div_up(n, 1024) table pages, all in the first range. */
    u64 n = want;
    u64 per_table_page = FERRY_PAGE_SIZE / FERRY_GEN_ENTRY_SIZE;
    if (n + div_up(n, per_table_page) > total)
        n = total - div_up(total, per_table_page + 1);
    if (div_up(n, per_table_page) > avail[0].pages)
        n = avail[0].pages * per_table_page;
    while (n && n + div_up(n, per_table_page) > total)
        n--;
    u64 tpages = div_up(n, per_table_page);

    wl.gen = (u32 *)avail[0].gpa;
    avail[0].gpa += tpages * FERRY_PAGE_SIZE;
    avail[0].pages -= tpages;
    u64 idx = 0;
    for (u32 i = 0; i < na && idx < n; i++) {
        if (!avail[i].pages)
            continue;
        u64 take = avail[i].pages < n - idx ? avail[i].pages : n - idx;
        wl.r[wl.nr++] = (struct wl_range){avail[i].gpa, idx, take};
        idx += take;
    }
    wl.npages = n;
    return n;
}

/* Declares the first shared% of the workload pages shared (pages are private by default),
 * one report per physically contiguous run. */
static void declare_shared(void)
{
    u64 nshared = wl.npages * cfg.shared_pct / 100;
    if (!nshared)
        return;
    if (!cfg.page_state_port) {
        print("ferry: shared=%lu%% not reported (no page-state channel)\n", cfg.shared_pct);
        return;
    }
    if ((u32)sys0(SYS_PAGE_STATE_STATUS) == FERRY_PAGE_STATE_STATUS_NODEV) {
        print("ferry: page-state device absent (port 0x%x reads all ones); not reporting\n",
              FERRY_PAGE_STATE_PORT);
        return;
    }
    u32 reports = 0;
    for (u32 i = 0; i < wl.nr && wl.r[i].first < nshared; i++) {
        u64 count = wl.r[i].pages;
        if (wl.r[i].first + count > nshared)
            count = nshared - wl.r[i].first;
        u32 status = (u32)sys3(SYS_PAGE_STATE, wl.r[i].gpa, count, 0);
        reports++;
        if (status != FERRY_PAGE_STATE_STATUS_OK)
            print("ferry: page-state report gpa=0x%lx pages=%lu failed: status=0x%x\n",
                  wl.r[i].gpa, count, status);
    }
    print("ferry: declared %lu pages shared (%lu%%) in %u reports\n", nshared, cfg.shared_pct,
          reports);
}

/* The verifier must notice a flipped bit, or a selftest pass means nothing. */
static int verifier_selfcheck(void)
{
    static u64 scratch[PAGE_QWORDS] __attribute__((aligned(4096)));
    u64 gpa = (u64)scratch;
    page_fill(scratch, 7, 3, gpa);
    if (page_check(scratch, 7, 3, gpa) != 0)
        return 0;
    scratch[300] ^= 1ULL << 17;
    if (page_check(scratch, 7, 3, gpa) != 1)
        return 0;
    scratch[300] ^= 1ULL << 17;
    return page_check(scratch, 7, 4, gpa) != 0 && page_check(scratch, 8, 3, gpa) != 0;
}

static __attribute__((noreturn)) void selftest_finish(const char *failure)
{
    u64 verified = 0, errors = 0;
    for (u32 c = 0; c < FERRY_MAX_CPUS; c++) {
        verified += stats[c].verified;
        errors += stats[c].errors;
    }
    if (!failure && errors)
        failure = "page errors";
    if (failure) {
        print("ferry: selftest FAIL %s cpus=%u pages_verified=%lu errors=%lu\n", failure,
              online_cpus, verified, errors);
    } else {
        print("ferry: selftest pass cpus=%u pages_verified=%lu errors=0\n", online_cpus, verified);
    }
    /* QEMU's isa-debug-exit exits with (value << 1) | 1; Ferry mimics it. If nothing is there,
     * ask Ferry's system control to power off, and if that is absent too, stop. */
    sys1(SYS_DEBUG_EXIT, failure ? FERRY_EXIT_SELFTEST_FAIL : FERRY_EXIT_PASS);
    sys1(SYS_SYSCTL_ACTION, FERRY_SYSCTL_ACTION_POWEROFF);
    sys_halt();
}

static void selftest_bsp(const volatile u8 *cpu_online)
{
    run_worker(0, 1);
    u64 start = rdtsc(), limit = (u64)SELFTEST_TIMEOUT_MS * boot_info.tsc_khz;
    for (u32 c = 1; c < FERRY_MAX_CPUS; c++) {
        while (cpu_online[c] && wl.hi[c] > wl.lo[c] && !stats[c].done) {
            u64 now = rdtsc();
            hb_tick(now);
            if (now - start > limit)
                selftest_finish("timeout waiting for cpus");
            cpu_relax();
        }
    }
    /* A final pass by one CPU over every page checks the work of all of them. */
    for (u64 i = 0; i < wl.npages; i++) {
        u64 gpa = page_gpa(i);
        u64 bad = page_check((const u64 *)gpa, i, wl.gen[i], gpa);
        if (bad) {
            stats[0].errors++;
            report_error(0, i, gpa, wl.gen[i], (const u64 *)gpa, bad);
        } else {
            stats[0].verified++;
        }
    }
    if (!cfg.have_fwcfg)
        selftest_finish("no fw_cfg");
    if (online_cpus < cfg.ncpus)
        selftest_finish("not all cpus came online");
    if (!verifier_selfcheck())
        selftest_finish("verifier missed a corrupted page");
    if (wl.npages == 0)
        selftest_finish("no workload memory");
    selftest_finish(0);
}

void workload_bsp(u32 online, const volatile u8 *cpu_online)
{
    online_cpus = online;
    if (cfg.mode == MODE_IDLE) {
        print("ferry: idle: heartbeats only\n");
        wl_go = 1;
        hb_start();
        for (;;) {
            hb_tick(rdtsc());
            sys_sleep_until(hb_next);
        }
    }

    u64 want_mib = cfg.mem_mib;
    if (cfg.mode == MODE_SELFTEST && want_mib > SELFTEST_MAX_MIB)
        want_mib = SELFTEST_MAX_MIB;
    u64 n = workload_layout(want_mib * (1 << 20) / FERRY_PAGE_SIZE);
    if (n * FERRY_PAGE_SIZE < want_mib << 20)
        print("ferry: mem=%lu MiB capped to %lu MiB (RAM above workload_base)\n", want_mib,
              n * FERRY_PAGE_SIZE >> 20);

    /* Split the pages between the CPUs that came online. */
    u32 workers[FERRY_MAX_CPUS], nw = 0;
    for (u32 c = 0; c < FERRY_MAX_CPUS; c++)
        if (c == 0 || cpu_online[c])
            workers[nw++] = c;
    for (u32 k = 0; k < nw; k++) {
        wl.lo[workers[k]] = n * k / nw;
        wl.hi[workers[k]] = n * (k + 1) / nw;
    }
    wl.nworkers = nw;
    if (cfg.mode == MODE_SELFTEST) {
        wl.rounds = SELFTEST_ROUNDS;
    } else if (cfg.rate_mib_s) {
        /* ticks per page on one CPU = tsc_hz * PAGE_SIZE * workers / (rate MiB/s) */
        wl.interval = boot_info.tsc_khz * 1000 * nw / (cfg.rate_mib_s * ((1 << 20) / FERRY_PAGE_SIZE));
        if (!wl.interval)
            wl.interval = 1;
    }
    wl.tick = cfg.tick_ms * boot_info.tsc_khz;
    /* At most 100 ms of catching up beyond the tick a CPU sleeps past a due visit anyway. */
    wl.max_lag = boot_info.tsc_khz * 100 + wl.tick;

    print("ferry: %s mem=%lu rate=%lu shared=%lu hb=%lu tick=%lu page_state=%s pages=%lu "
          "gen_table=0x%lx\n",
          mode_names[cfg.mode], n * FERRY_PAGE_SIZE >> 20, cfg.rate_mib_s, cfg.shared_pct,
          cfg.hb_ms, cfg.tick_ms, cfg.page_state_port ? "port" : "none", n, (u64)wl.gen);

    declare_shared();
    hb_start();
    __atomic_store_n(&wl_go, 1, __ATOMIC_RELEASE);
    if (cfg.mode == MODE_SELFTEST)
        selftest_bsp(cpu_online);
    run_worker(0, 1);                    /* workload: never returns */
    sys_halt();
}

void workload_ap(u32 cpu)
{
    while (!__atomic_load_n(&wl_go, __ATOMIC_ACQUIRE))
        cpu_relax();
    if (cfg.mode == MODE_IDLE || wl.hi[cpu] == wl.lo[cpu])
        sys_halt();
    run_worker(cpu, 0);
    sys_halt();
}
