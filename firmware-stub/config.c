/*
 * Ferry firmware-stub, ring 3: machine configuration from the Multiboot information and from
 * QEMU-compatible fw_cfg (QEMU docs/specs/fw_cfg.txt: selector port 0x510, data port 0x511,
 * signature "QEMU" at key 0, file directory at key 0x19 with big-endian fields).
 */
#include "user.h"

struct config cfg = {
    .ncpus = 1,
    .mode = MODE_WORKLOAD,
    .mem_mib = 16,
    .rate_mib_s = 8,
    .shared_pct = 0,
    .hb_ms = 1000,
    .tick_ms = 4,
};

const char *const mode_names[] = {"workload", "selftest", "idle", "triplefault"};

struct fwcfg_file {
    u32 size_be;
    u16 select_be;
    u16 reserved;
    char name[FERRY_FW_CFG_FILE_NAME_MAX];
};

#define FWCFG_DIR_MAX 256
static struct fwcfg_file fwcfg_dir[FWCFG_DIR_MAX];
static u32 fwcfg_nfiles;

static void fwcfg_read(u64 key, void *buf, u64 len) { sys3(SYS_FWCFG_READ, key, (u64)buf, len); }

static void fwcfg_init(void)
{
    char sig[4];
    fwcfg_read(FERRY_FW_CFG_SIGNATURE, sig, sizeof(sig));
    if (memcmp(sig, "QEMU", 4) != 0)
        return;
    cfg.have_fwcfg = 1;

    u16 ncpus = 0;                       /* FW_CFG_NB_CPUS is little-endian */
    fwcfg_read(FERRY_FW_CFG_NB_CPUS, &ncpus, sizeof(ncpus));
    cfg.ncpus = ncpus;

    u32 count;
    fwcfg_read(FERRY_FW_CFG_FILE_DIR, &count, sizeof(count));
    count = __builtin_bswap32(count);
    if (count > FWCFG_DIR_MAX) {
        print("ferry: fw_cfg has %u files, reading the first %u\n", count, FWCFG_DIR_MAX);
        count = FWCFG_DIR_MAX;
    }
    fwcfg_read(FWCFG_NO_SELECT, fwcfg_dir, (u64)count * sizeof(fwcfg_dir[0]));
    fwcfg_nfiles = count;
}

/* Reads fw_cfg file `name` into buf as a string without trailing blanks; -1 if absent. */
static int fwcfg_file(const char *name, char *buf, u32 cap)
{
    for (u32 i = 0; i < fwcfg_nfiles; i++) {
        const struct fwcfg_file *f = &fwcfg_dir[i];
        size_t n = strlen(name);
        if (n >= sizeof(f->name) || memcmp(f->name, name, n + 1) != 0)
            continue;
        u32 size = __builtin_bswap32(f->size_be);
        if (size > cap - 1)
            size = cap - 1;
        fwcfg_read(__builtin_bswap16(f->select_be), buf, size);
        while (size && (buf[size - 1] == '\n' || buf[size - 1] == ' ' || buf[size - 1] == 0))
            size--;
        buf[size] = 0;
        return (int)size;
    }
    return -1;
}

static void ram_add(u64 base, u64 end)
{
    if (end > boot_info.mapped_top)
        end = boot_info.mapped_top;
    if (base >= end || cfg.nram == MAX_RAM_RANGES)
        return;
    /* Keep the list sorted (loaders usually are; the Multiboot spec does not promise it). */
    u32 i = cfg.nram++;
    while (i > 0 && cfg.ram[i - 1].base > base) {
        cfg.ram[i] = cfg.ram[i - 1];
        i--;
    }
    cfg.ram[i] = (struct ram_range){base, end};
}

/* RAM and the command line from the Multiboot information (Multiboot spec 0.6.96, 3.3). */
static void multiboot_read(char *cmdline, size_t cap)
{
    cmdline[0] = 0;
    if (boot_info.mb_magic != MB_LOADER_MAGIC) {
        print("ferry: not started by a Multiboot loader (eax=0x%x)\n", boot_info.mb_magic);
        return;
    }
    const struct mb_info *mbi = (const struct mb_info *)(u64)boot_info.mb_info;
    if (mbi->flags & MBI_FLAG_MMAP) {
        u64 p = mbi->mmap_addr, end = p + mbi->mmap_length;
        while (p < end) {
            const struct mb_mmap_entry *e = (const struct mb_mmap_entry *)p;
            if (e->type == MB_MMAP_AVAILABLE) {
                cfg.ram_bytes += e->len;
                ram_add(e->addr, e->addr + e->len);
            }
            p += e->size + 4;
        }
    } else if (mbi->flags & MBI_FLAG_MEM) {
        cfg.ram_bytes = ((u64)mbi->mem_lower + mbi->mem_upper) << 10;
        ram_add(0, (u64)mbi->mem_lower << 10);
        ram_add(1 << 20, (1 << 20) + ((u64)mbi->mem_upper << 10));
    }
    if (mbi->flags & MBI_FLAG_CMDLINE) {
        const char *s = (const char *)(u64)mbi->cmdline;
        size_t n = 0;
        while (s[n] && n < cap - 1) {
            cmdline[n] = s[n];
            n++;
        }
        cmdline[n] = 0;
    }
}

static void set_option(const char *key, const char *val)
{
    u64 v;
    if (str_eq(key, "mode")) {
        for (u32 m = 0; m < sizeof(mode_names) / sizeof(mode_names[0]); m++) {
            if (str_eq(val, mode_names[m])) {
                cfg.mode = (enum mode)m;
                return;
            }
        }
    } else if (str_eq(key, "mem")) {
        if (parse_u64(val, &v) && v <= (1ULL << 40)) {
            cfg.mem_mib = v;
            return;
        }
    } else if (str_eq(key, "rate")) {
        if (parse_u64(val, &v) && v <= (1ULL << 30)) {
            cfg.rate_mib_s = v;
            return;
        }
    } else if (str_eq(key, "shared")) {
        if (parse_u64(val, &v) && v <= 100) {
            cfg.shared_pct = v;
            return;
        }
    } else if (str_eq(key, "hb")) {
        if (parse_u64(val, &v) && v >= 1 && v <= 3600000) {
            cfg.hb_ms = v;
            return;
        }
    } else if (str_eq(key, "tick")) {
        if (parse_u64(val, &v) && v <= 50) {   /* well inside the 100 ms of catching up */
            cfg.tick_ms = v;
            return;
        }
    } else {
        print("ferry: ignoring unknown option %s\n", key);
        return;
    }
    print("ferry: ignoring bad value %s=%s\n", key, val);
}

/*
 * Space-separated key=value. A Multiboot command line starts with the kernel's path (QEMU
 * passes "<kernel> <append>", GRUB does the same), so its first word is skipped when it has no
 * '='.
 */
static void parse_cmdline(char *s, int from_multiboot)
{
    int first = 1;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        if (!*s)
            break;
        char *key = s, *val = 0;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
            if (*s == '=' && !val) {
                *s = 0;
                val = s + 1;
            }
            s++;
        }
        if (*s)
            *s++ = 0;
        if (!val) {
            if (!(first && from_multiboot))
                print("ferry: ignoring unknown option %s\n", key);
        } else {
            set_option(key, val);
        }
        first = 0;
    }
}

void config_read(void)
{
    static char mb_cmdline[1024], fw_cmdline[1024];
    char buf[64];

    multiboot_read(mb_cmdline, sizeof(mb_cmdline));
    fwcfg_init();
    if (!cfg.have_fwcfg) {
        print("ferry: no fw_cfg (signature mismatch); using the Multiboot command line, 1 cpu\n");
        cfg.ncpus = 1;
        parse_cmdline(mb_cmdline, 1);
        return;
    }
    if (fwcfg_file(FERRY_FWCFG_CMDLINE, fw_cmdline, sizeof(fw_cmdline)) >= 0)
        parse_cmdline(fw_cmdline, 0);
    else
        parse_cmdline(mb_cmdline, 1);

    if (fwcfg_file(FERRY_FWCFG_PAGE_STATE, buf, sizeof(buf)) >= 0) {
        if (str_eq(buf, FERRY_PAGE_STATE_MODE_PORT))
            cfg.page_state_port = 1;
        else if (str_eq(buf, FERRY_PAGE_STATE_MODE_HYPERCALL))
            print("ferry: page-state=hypercall is not used by this firmware "
                  "(vmmcall hangs under kvm-pvm); no page-state reports\n");
        else
            print("ferry: unknown page-state channel '%s'; no page-state reports\n", buf);
    }
    if (fwcfg_file(FERRY_FWCFG_MIGRATION_TARGET, buf, sizeof(buf)) >= 0 && str_eq(buf, "1"))
        cfg.migration_target = 1;

    if (cfg.ncpus < 1)
        cfg.ncpus = 1;
    if (cfg.ncpus > FERRY_MAX_CPUS) {
        print("ferry: %u cpus, using the first %u\n", cfg.ncpus, FERRY_MAX_CPUS);
        cfg.ncpus = FERRY_MAX_CPUS;
    }
}
