/*
 * What berth-monitor needs instead of a C library: raw system calls, the
 * process entry point, a few memory and formatting helpers. Without libc the
 * monitor maps one small static binary and little else, which keeps its
 * resident set (the per-container cost) in the tens of kilobytes; a program
 * linked with glibc starts above 1 MB. Only kernel UAPI headers are used.
 *
 * Every syscall wrapper returns the kernel's result: >= 0, or -errno.
 */
#ifndef BERTH_NOLIBC_H
#define BERTH_NOLIBC_H

#include <asm/errno.h>
#include <asm/unistd.h>
#include <linux/fcntl.h>
#include <linux/poll.h>
#include <linux/types.h>
#include <linux/uio.h>

typedef unsigned long size_t;
typedef long ssize_t;
typedef int pid_t;

#define NULL ((void *)0)

struct timespec64 {
	long long tv_sec;
	long tv_nsec;
};

#if defined(__x86_64__)
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
/* not exercised on the machines berth is tested on */
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
	return x0;
}
#else
#error "berth-monitor: no system call wrapper for this architecture yet"
#endif

#define SYS(n, a, b, c, d, e, f) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static inline ssize_t sys_read(int fd, void *buf, size_t n) { return SYS(__NR_read, fd, buf, n, 0, 0, 0); }
static inline ssize_t sys_write(int fd, const void *buf, size_t n) { return SYS(__NR_write, fd, buf, n, 0, 0, 0); }
static inline ssize_t sys_writev(int fd, const struct iovec *iov, int n) { return SYS(__NR_writev, fd, iov, n, 0, 0, 0); }
static inline int sys_close(int fd) { return SYS(__NR_close, fd, 0, 0, 0, 0, 0); }
static inline int sys_openat(int dir, const char *path, int flags, int mode) { return SYS(__NR_openat, dir, path, flags, mode, 0, 0); }
static inline int sys_renameat(int d1, const char *a, int d2, const char *b) { return SYS(__NR_renameat2, d1, a, d2, b, 0, 0); }
static inline int sys_unlinkat(int dir, const char *path) { return SYS(__NR_unlinkat, dir, path, 0, 0, 0, 0); }
static inline int sys_ftruncate(int fd, long len) { return SYS(__NR_ftruncate, fd, len, 0, 0, 0, 0); }
static inline int sys_fsync(int fd) { return SYS(__NR_fsync, fd, 0, 0, 0, 0, 0); }
static inline long sys_lseek_end(int fd) { return SYS(__NR_lseek, fd, 0, 2 /* SEEK_END */, 0, 0, 0); }
static inline int sys_ppoll(struct pollfd *p, unsigned n) { return SYS(__NR_ppoll, p, n, 0, 0, 0, 0); }
static inline int sys_accept4(int fd, int flags) { return SYS(__NR_accept4, fd, 0, 0, flags, 0, 0); }
static inline pid_t sys_wait4(pid_t pid, int *status, int options) { return SYS(__NR_wait4, pid, status, options, 0, 0, 0); }
static inline int sys_signalfd(const unsigned long *mask, int flags) { return SYS(__NR_signalfd4, -1, mask, 8, flags, 0, 0); }
static inline ssize_t sys_recvmsg(int fd, void *msg, int flags) { return SYS(__NR_recvmsg, fd, msg, flags, 0, 0, 0); }
static inline int sys_ioctl(int fd, unsigned long req, void *arg) { return SYS(__NR_ioctl, fd, req, arg, 0, 0, 0); }
static inline int sys_fcntl(int fd, int cmd, long arg) { return SYS(__NR_fcntl, fd, cmd, arg, 0, 0, 0); }
static inline int sys_clock_realtime(struct timespec64 *ts) { return SYS(__NR_clock_gettime, 0 /* CLOCK_REALTIME */, ts, 0, 0, 0, 0); }
static inline __attribute__((noreturn)) void sys_exit(int code)
{
	for (;;)
		SYS(__NR_exit_group, code, 0, 0, 0, 0, 0);
}

/* The compiler may emit calls to these for struct copies and loops. */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);

/* Decimal text of v into buf (no NUL); returns its length. */
int fmt_uint(char *buf, unsigned long long v);
/* Unsigned decimal at s; -1 if s is not one. */
long long parse_uint(const char *s);
/* "2024-05-01T10:00:00.123456789Z" (30 bytes, no NUL) */
#define TIME_LEN 30
void fmt_time(char *buf, const struct timespec64 *ts);

#endif
