/* LINK_UP: bring a network interface of the current network namespace up
 * (the loopback of a new namespace starts down; runc brings it up too). */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth.h"

int link_up(const char *name, struct err *e)
{
	struct ifreq ifr;
	if (strlen(name) >= IFNAMSIZ)
		return fail(e, EINVAL, "link \"%s\": name too long", name);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(e, errno, "link \"%s\": socket", name);
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
		int err = errno;
		close(fd);
		return fail(e, err, "link \"%s\" up", name);
	}
	close(fd);
	return 0;
}
