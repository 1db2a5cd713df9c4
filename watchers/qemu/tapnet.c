/* tapnet.c - see tapnet.h.  rtnetlink through libmnl; bridge facts (is it a
 * bridge, is it VLAN-aware, its MTU) are read from sysfs, which is cheaper to
 * read than to ask for over netlink and is what `ip`/`bridge` users check. */
#include "tapnet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

static int set_err(char *err, size_t errlen, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int set_err(char *err, size_t errlen, int r, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

static void mnl_closep(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}

/* Read a small sysfs attribute of ifname as an unsigned number. */
static int read_sysfs_number(const char *ifname, const char *attr, unsigned long *value)
{
	char path[256], buf[64];
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	char *end;
	errno = 0;
	*value = strtoul(buf, &end, 10);
	return errno ? -errno : 0;
}

int tapnet_get_mtu(const char *ifname)
{
	unsigned long mtu;
	int r = read_sysfs_number(ifname, "mtu", &mtu);
	return r < 0 ? r : (int)mtu;
}

static bool is_bridge(const char *ifname)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", ifname);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Send one request and wait for its acknowledgement; returns the kernel's
 * answer as a negative errno. */
static int nl_transact(struct nlmsghdr *nlh)
{
	__attribute__((cleanup(mnl_closep))) struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	unsigned portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (unsigned)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		int r = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, NULL, NULL);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static struct ifinfomsg *put_link_header(struct nlmsghdr *nlh, int type, unsigned char family, int ifindex)
{
	nlh->nlmsg_type = (uint16_t)type;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = family;
	ifi->ifi_index = ifindex;
	return ifi;
}

int tapnet_attach(const char *ifname, const char *bridge, unsigned mtu, char *err, size_t errlen)
{
	int ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return set_err(err, errlen, -ENODEV, "interface %s does not exist", ifname);
	int brindex = (int)if_nametoindex(bridge);
	if (!brindex)
		return set_err(err, errlen, -ENODEV, "bridge %s does not exist (for %s)", bridge, ifname);
	if (!is_bridge(bridge))
		return set_err(err, errlen, -ENODEV, "%s is not a bridge (for %s)", bridge, ifname);
	if (mtu == 0) {
		int bmtu = tapnet_get_mtu(bridge);
		if (bmtu < 0)
			return set_err(err, errlen, bmtu, "cannot read the MTU of %s: %s", bridge, strerror(-bmtu));
		mtu = (unsigned)bmtu;
	}

	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi = put_link_header(nlh, RTM_NEWLINK, AF_UNSPEC, ifindex);
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)brindex);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	int r = nl_transact(nlh);
	if (r < 0)
		return set_err(err, errlen, r, "cannot add %s to bridge %s with MTU %u: %s", ifname, bridge, mtu,
			       strerror(-r));
	return 0;
}

/* Put VLANs first..last into a bridge VLAN request (a range needs two
 * entries; the kernel refuses a range of one). */
static void put_vlan_range(struct nlmsghdr *nlh, unsigned first, unsigned last, uint16_t flags)
{
	struct bridge_vlan_info info = { .flags = flags, .vid = (uint16_t)first };
	if (first != last)
		info.flags |= BRIDGE_VLAN_INFO_RANGE_BEGIN;
	mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof(info), &info);
	if (first == last)
		return;
	info.flags = flags | BRIDGE_VLAN_INFO_RANGE_END;
	info.vid = (uint16_t)last;
	mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof(info), &info);
}

static int bridge_vlan_request(int type, int ifindex, unsigned vid, uint16_t flags)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	put_link_header(nlh, type, AF_BRIDGE, ifindex);
	struct nlattr *spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	put_vlan_range(nlh, vid, vid, flags);
	mnl_attr_nest_end(nlh, spec);
	return nl_transact(nlh);
}

/* Remove every VLAN but keep from a bridge port: the default VLAN 1 it
 * joined with, or the tag of an earlier start when QEMU reused a leftover
 * tap.  The kernel skips the VLANs the port does not have. */
static int remove_other_vlans(int ifindex, unsigned keep)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	put_link_header(nlh, RTM_DELLINK, AF_BRIDGE, ifindex);
	struct nlattr *spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	if (keep > 1)
		put_vlan_range(nlh, 1, keep - 1, 0);
	if (keep < 4094)
		put_vlan_range(nlh, keep + 1, 4094, 0);
	mnl_attr_nest_end(nlh, spec);
	return nl_transact(nlh);
}

int tapnet_set_vlan(const char *ifname, const char *bridge, unsigned vid, char *err, size_t errlen)
{
	if (vid < 1 || vid > 4094)
		return set_err(err, errlen, -ERANGE, "VLAN tag %u of %s is outside 1..4094", vid, ifname);
	int ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return set_err(err, errlen, -ENODEV, "interface %s does not exist", ifname);
	unsigned long filtering;
	int r = read_sysfs_number(bridge, "bridge/vlan_filtering", &filtering);
	if (r == -ENOENT)
		return set_err(err, errlen, -EOPNOTSUPP,
			       "cannot tag %s: bridge %s has no VLAN filtering (kernel without bridge VLAN support?)",
			       ifname, bridge);
	if (r < 0)
		return set_err(err, errlen, r, "cannot read vlan_filtering of bridge %s: %s", bridge, strerror(-r));
	if (!filtering)
		return set_err(err, errlen, -EOPNOTSUPP,
			       "cannot tag %s with VLAN %u: bridge %s is not VLAN-aware (vlan_filtering=0)", ifname,
			       vid, bridge);
	r = bridge_vlan_request(RTM_SETLINK, ifindex, vid, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED);
	if (r < 0)
		return set_err(err, errlen, r, "cannot set VLAN %u on %s: %s", vid, ifname, strerror(-r));
	/* The guest must see only its own VLAN: not the bridge's default PVID
	 * (1) the port joined with, nor an earlier tag of the same tap. */
	r = remove_other_vlans(ifindex, vid);
	if (r < 0 && r != -ENOENT)
		return set_err(err, errlen, r, "cannot remove the other VLANs of %s: %s", ifname, strerror(-r));
	return 0;
}

/* "tap<vmid>i<N>" for this vmid? */
static bool is_tap_of(const char *ifname, unsigned vmid)
{
	char prefix[32];
	int len = snprintf(prefix, sizeof(prefix), "tap%ui", vmid);
	if (strncmp(ifname, prefix, (size_t)len) != 0 || !ifname[len])
		return false;
	for (const char *c = ifname + len; *c; c++)
		if (*c < '0' || *c > '9')
			return false;
	return true;
}

int tapnet_remove_vm_taps(unsigned vmid, char *err, size_t errlen)
{
	DIR *dh = opendir("/sys/class/net");
	if (!dh)
		return set_err(err, errlen, -errno, "cannot list /sys/class/net: %s", strerror(errno));
	int removed = 0, r = 0;
	struct dirent *de;
	while ((de = readdir(dh))) {
		if (!is_tap_of(de->d_name, vmid))
			continue;
		int ifindex = (int)if_nametoindex(de->d_name);
		if (!ifindex)
			continue; /* gone meanwhile: QEMU's exit removed it */
		char buf[MNL_SOCKET_BUFFER_SIZE];
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		put_link_header(nlh, RTM_DELLINK, AF_UNSPEC, ifindex);
		int q = nl_transact(nlh);
		if (q == -ENODEV)
			continue;
		if (q < 0) {
			r = set_err(err, errlen, q, "cannot remove %s: %s", de->d_name, strerror(-q));
			continue;
		}
		removed++;
	}
	closedir(dh);
	return r < 0 ? r : removed;
}
