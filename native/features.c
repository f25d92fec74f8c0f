/*
 * Process attributes set by the container init (or, for CPU_AFFINITY, by
 * berth-init before CLONE): personality, I/O priority, scheduler, CPU affinity
 * and NUMA memory policy. Each is one syscall with numbers the plan computed
 * (src/runtime/plan/process-features.ts); nothing is decided here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "berth.h"
#include "opcodes.h"

#ifndef SYS_ioprio_set
#define SYS_ioprio_set 251
#endif
#ifndef SYS_sched_setattr
#define SYS_sched_setattr 314
#endif
#ifndef SYS_set_mempolicy
#define SYS_set_mempolicy 238
#endif

/* struct sched_attr (linux/sched/types.h), the first version (48 bytes). */
struct berth_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};

/* Copy a bitmask out of the plan (no alignment guarantee there) into unsigned longs. */
static unsigned long *mask_copy(const uint8_t *b, uint32_t len, const char *what, struct err *e)
{
	if (len == 0 || len % sizeof(unsigned long)) {
		fail_msg(e, EINVAL, "%s: %u bytes is not a bitmask of unsigned longs", what, len);
		return NULL;
	}
	unsigned long *m = malloc(len);
	if (!m) {
		fail(e, ENOMEM, "%s", what);
		return NULL;
	}
	memcpy(m, b, len);
	return m;
}

static int set_personality(uint32_t persona, struct err *e)
{
	if (persona == 0xffffffffu)
		return fail_msg(e, EINVAL, "personality 0x%x: that value only queries", persona);
	if (personality(persona) < 0)
		return fail(e, errno, "personality 0x%x", persona);
	return 0;
}

static int set_ioprio(uint32_t which, uint32_t who, uint32_t prio, struct err *e)
{
	if (syscall(SYS_ioprio_set, which, who, prio) < 0)
		return fail(e, errno, "ioprio_set class %u priority %u", prio >> 13, prio & 0x1fff);
	return 0;
}

static int set_scheduler(const struct ins *in, struct err *e)
{
	struct berth_sched_attr a = {
		.size = sizeof a,
		.sched_policy = in->n[0],
		.sched_flags = in->n[1],
		.sched_nice = (int32_t)(uint32_t)in->n[2],
		.sched_priority = in->n[3],
		.sched_runtime = in->n[4],
		.sched_deadline = in->n[5],
		.sched_period = in->n[6],
	};
	if (syscall(SYS_sched_setattr, 0, &a, 0) == 0)
		return 0;
	int err = errno;
	/* realtime and deadline policies fail with EPERM without CAP_SYS_NICE or an
	 * RLIMIT_RTPRIO, and (CONFIG_RT_GROUP_SCHED) without a realtime budget in the
	 * container's cpu cgroup */
	if (err == EPERM && (a.sched_policy == 1 || a.sched_policy == 2 || a.sched_policy == 6))
		return fail_msg(e, err,
				"sched_setattr policy %u priority %u: %s (realtime scheduling needs CAP_SYS_NICE or "
				"RLIMIT_RTPRIO, and a realtime budget in the cpu cgroup: cpu.rt_runtime_us)",
				a.sched_policy, a.sched_priority, strerror(err));
	if (err == EBUSY && a.sched_policy == 6)
		return fail_msg(e, err, "sched_setattr SCHED_DEADLINE: %s (not enough deadline bandwidth)", strerror(err));
	return fail(e, err, "sched_setattr policy %u nice %d priority %u flags 0x%llx", a.sched_policy, a.sched_nice,
		    a.sched_priority, (unsigned long long)a.sched_flags);
}

static int set_affinity(const uint8_t *b, uint32_t len, struct err *e)
{
	unsigned long *m = mask_copy(b, len, "sched_setaffinity", e);
	if (!m)
		return -1;
	long r = syscall(SYS_sched_setaffinity, 0, (size_t)len, m);
	int err = errno;
	free(m);
	return r < 0 ? fail(e, err, "sched_setaffinity (%u cpus in the mask)", len * 8) : 0;
}

static int set_mempolicy(uint32_t mode, const uint8_t *b, uint32_t len, struct err *e)
{
	unsigned long *m = NULL;
	if (len && !(m = mask_copy(b, len, "set_mempolicy", e)))
		return -1;
	/* the kernel reads maxnode - 1 bits */
	long r = syscall(SYS_set_mempolicy, mode, m, m ? (unsigned long)len * 8 + 1 : 0);
	int err = errno;
	free(m);
	return r < 0 ? fail(e, err, "set_mempolicy mode 0x%x", mode) : 0;
}

int feature_step(const struct ins *in, struct err *e)
{
	switch (in->op) {
	case OP_PERSONALITY:
		return set_personality(in->n[0], e);
	case OP_IOPRIO:
		return set_ioprio(in->n[0], in->n[1], in->n[2], e);
	case OP_SCHED_ATTR:
		return set_scheduler(in, e);
	case OP_CPU_AFFINITY:
		return set_affinity(in->b, in->blen, e);
	case OP_MEMPOLICY:
		return set_mempolicy(in->n[0], in->b, in->blen, e);
	}
	return fail_msg(e, EINVAL, "features: unexpected opcode %u", in->op);
}
