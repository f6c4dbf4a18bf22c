/*
 * Ferry firmware-stub, ring 3: formatting and printing. A line is formatted here and written with
 * one SYS_WRITE trap, so the cost of a line is one trap however long it is.
 */
#include "user.h"

struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct out *o, u64 v, unsigned base, int negative)
{
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (negative)
        put(o, '-');
    while (i)
        put(o, tmp[--i]);
}

/* A printf subset: %s %c %d %u %x with the l, ll and z length modifiers, and %%. */
int vfmt(char *buf, size_t cap, const char *f, va_list ap)
{
    struct out o = {buf, cap, 0};
    for (; *f; f++) {
        if (*f != '%') {
            put(&o, *f);
            continue;
        }
        f++;
        int longness = 0;
        while (*f == 'l' || *f == 'z') {
            longness = 1;
            f++;
        }
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            for (s = s ? s : "(null)"; *s; s++)
                put(&o, *s);
            break;
        }
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case 'd': {
            int64_t v = longness ? va_arg(ap, int64_t) : va_arg(ap, int);
            put_num(&o, v < 0 ? -(u64)v : (u64)v, 10, v < 0);
            break;
        }
        case 'u':
            put_num(&o, longness ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, 0);
            break;
        case 'x':
            put_num(&o, longness ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, 0);
            break;
        case '%':
            put(&o, '%');
            break;
        default:
            put(&o, '%');
            if (!*f)
                f--;
            else
                put(&o, *f);
        }
    }
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = 0;
    return (int)o.len;
}

int fmt(char *buf, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vfmt(buf, cap, f, ap);
    va_end(ap);
    return n;
}

void print(const char *f, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, f);
    int n = vfmt(line, sizeof(line), f, ap);
    va_end(ap);
    if (n >= (int)sizeof(line))
        n = sizeof(line) - 1;
    sys3(SYS_WRITE, (u64)line, (u64)n, 0);
}

int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* Decimal only; rejects empty strings, junk and overflow. */
int parse_u64(const char *s, u64 *out)
{
    u64 v = 0;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (~0ULL - 9) / 10)
            return 0;
        v = v * 10 + (u64)(*s - '0');
    }
    *out = v;
    return 1;
}
