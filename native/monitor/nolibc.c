/* The entry point and helpers declared in nolibc.h. */
#include "nolibc.h"

int monitor_main(int argc, char **argv);

#if defined(__x86_64__)
__asm__(".text\n.global _start\n_start:\n\txor %rbp, %rbp\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall start_c\n\thlt\n");
#elif defined(__aarch64__)
__asm__(".text\n.global _start\n_start:\n\tmov x0, sp\n\tbl start_c\n");
#endif

__attribute__((used, noreturn)) void start_c(long *sp)
{
	sys_exit(monitor_main((int)sp[0], (char **)(sp + 1)));
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *dp = d;
	while (n--)
		*dp++ = (unsigned char)c;
	return d;
}

void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;
	for (; n; n--, p++)
		if (*p == (unsigned char)c)
			return (void *)p;
	return NULL;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int fmt_uint(char *buf, unsigned long long v)
{
	char t[20];
	int n = 0, k = 0;
	do
		t[k++] = '0' + v % 10;
	while ((v /= 10));
	while (k)
		buf[n++] = t[--k];
	return n;
}

long long parse_uint(const char *s)
{
	long long v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (1LL << 58))
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static void digits(char *p, long v, int n)
{
	while (n--) {
		p[n] = '0' + v % 10;
		v /= 10;
	}
}

/* Civil date from days since 1970-01-01 (proleptic Gregorian, eras of 400 years). */
void fmt_time(char *buf, const struct timespec64 *ts)
{
	long long days = ts->tv_sec / 86400, secs = ts->tv_sec % 86400;
	long long z = days + 719468, era = z / 146097;
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, mo = mp < 10 ? mp + 3 : mp - 9;
	long y = yoe + era * 400 + (mo <= 2);
	digits(buf, y, 4);
	buf[4] = '-';
	digits(buf + 5, mo, 2);
	buf[7] = '-';
	digits(buf + 8, d, 2);
	buf[10] = 'T';
	digits(buf + 11, secs / 3600, 2);
	buf[13] = ':';
	digits(buf + 14, secs / 60 % 60, 2);
	buf[16] = ':';
	digits(buf + 17, secs % 60, 2);
	buf[19] = '.';
	digits(buf + 20, ts->tv_nsec, 9);
	buf[29] = 'Z';
}
