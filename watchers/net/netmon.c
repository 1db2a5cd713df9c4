/* netmon.c - see netmon.h. */
#include "netmon.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct netmon {
	struct mnl_socket *sock;
	char buf[65536]; /* MNL_SOCKET_BUFFER_SIZE is not a constant expression */
};

int netmon_open(struct netmon **out)
{
	struct netmon *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!m->sock) {
		int e = errno;
		free(m);
		return -e;
	}
	unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
	if (mnl_socket_bind(m->sock, groups, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		netmon_close(m);
		return -e;
	}
	*out = m;
	return 0;
}

void netmon_close(struct netmon *m)
{
	if (!m)
		return;
	if (m->sock)
		mnl_socket_close(m->sock);
	free(m);
}

int netmon_fd(const struct netmon *m) { return mnl_socket_get_fd(m->sock); }

struct netmon_call {
	netmon_fn cb;
	void *userdata;
};

static int link_name_attr(const struct nlattr *attr, void *data)
{
	const char **name = data;
	if (mnl_attr_get_type(attr) == IFLA_IFNAME && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
		*name = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

static int on_message(const struct nlmsghdr *nlh, void *data)
{
	const struct netmon_call *call = data;
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK: {
		const char *name = "";
		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
			return MNL_CB_OK;
		mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_name_attr, &name);
		call->cb(call->userdata, name, nlh->nlmsg_type == RTM_NEWLINK ? "link" : "dellink");
		break;
	}
	case RTM_NEWADDR:
	case RTM_DELADDR: {
		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifaddrmsg)))
			return MNL_CB_OK;
		const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
		char name[IF_NAMESIZE] = "";
		if (!if_indextoname(ifa->ifa_index, name))
			name[0] = '\0'; /* the link went away meanwhile */
		call->cb(call->userdata, name, nlh->nlmsg_type == RTM_NEWADDR ? "addr" : "deladdr");
		break;
	}
	default:
		break;
	}
	return MNL_CB_OK;
}

int netmon_read(struct netmon *m, netmon_fn cb, void *userdata)
{
	struct netmon_call call = { cb, userdata };
	int count = 0;
	bool lost = false;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(m->sock, m->buf, sizeof(m->buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) { /* overrun: keep reading what is left */
				lost = true;
				continue;
			}
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (mnl_cb_run(m->buf, (size_t)n, 0, 0, on_message, &call) < 0 && errno != ENOENT)
			lost = true;
		count++;
	}
	return lost ? -ENOBUFS : count;
}
