/*
 * berth-init runs from a sealed copy of itself (CVE-2019-5736).
 *
 * A process inside a container can reach the binary of any process that enters
 * it through /proc/<pid>/exe (or, by making the container's entry point a
 * "#!/proc/self/exe" script, by having the kernel execute that binary again in
 * the container). Were that the host's native/build/berth-init, a container
 * could open it for writing and replace the runtime of the host. So before it
 * does anything else berth-init copies itself into a memfd, seals the copy
 * against any change (write, grow, shrink, and adding or removing seals) and
 * re-executes from it: every route from a container to "the berth-init binary"
 * then leads to an unchangeable anonymous file, never to the host's.
 *
 * A process that already runs from such a sealed memfd (the second pass, or a
 * caller that prepared one) goes on without copying.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "berth.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: ask for an executable memfd even when vm.memfd_noexec prefers otherwise */
#endif

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

int is_sealed_fd(int fd)
{
	int s = fcntl(fd, F_GET_SEALS);
	return s >= 0 && (s & SEALS) == SEALS;
}

static int sealed_copy(int exe, struct err *e)
{
	struct stat st;
	int fd = memfd_create("berth-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL) /* kernels before 6.3 do not know MFD_EXEC */
		fd = memfd_create("berth-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return fail(e, errno, "seal berth-init: memfd_create");
	if (fstat(exe, &st) < 0) {
		fail(e, errno, "seal berth-init: stat /proc/self/exe");
		goto out;
	}
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = sendfile(fd, exe, NULL, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fail(e, n < 0 ? errno : EIO, "seal berth-init: copy");
			goto out;
		}
		left -= n;
	}
	if (fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
		fail(e, errno, "seal berth-init: add seals");
		goto out;
	}
	return fd;
out:
	close(fd);
	return -1;
}

int seal_self(char **argv, char **envp, struct err *e)
{
	int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (exe < 0)
		return fail(e, errno, "seal berth-init: open /proc/self/exe");
	if (is_sealed_fd(exe)) {
		close(exe);
		return 0;
	}
	int fd = sealed_copy(exe, e);
	close(exe);
	if (fd < 0)
		return -1;
	/* execveat with AT_EMPTY_PATH runs the memfd itself; MFD_CLOEXEC closes it once the image is mapped */
	syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	fail(e, errno, "seal berth-init: exec the sealed copy");
	close(fd);
	return -1;
}
