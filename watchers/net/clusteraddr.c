/* clusteraddr.c - see clusteraddr.h.
 *
 * One short-lived cmap connection per lookup: the watcher keeps no corosync
 * handle open between passes, so a corosync restart needs no reconnect
 * logic here, and a pass costs a handful of local IPC round trips. */
#include "clusteraddr.h"

#include <arpa/inet.h>
#include <corosync/cmap.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"

#define NODELIST_MAX 1024 /* corosync's own limit is far lower */

static void cmap_finalizep(cmap_handle_t *h)
{
	if (*h)
		cmap_finalize(*h);
}

/* The index N of nodelist.node.N for this node, or -ENOENT. */
static int find_entry(cmap_handle_t h, const char *node)
{
	uint32_t self = 0;
	bool have_id = cmap_get_uint32(h, "runtime.votequorum.this_node_id", &self) == CS_OK;
	for (unsigned n = 0; n < NODELIST_MAX; n++) {
		char key[128];
		uint32_t id;
		snprintf(key, sizeof(key), "nodelist.node.%u.nodeid", n);
		bool has_id = cmap_get_uint32(h, key, &id) == CS_OK;
		snprintf(key, sizeof(key), "nodelist.node.%u.name", n);
		char *name = NULL;
		bool has_name = cmap_get_string(h, key, &name) == CS_OK;
		bool match = (have_id && has_id && id == self) || (!have_id && has_name && strcmp(name, node) == 0);
		free(name);
		if (!has_id && !has_name) {
			snprintf(key, sizeof(key), "nodelist.node.%u.ring0_addr", n);
			char *addr = NULL;
			if (cmap_get_string(h, key, &addr) != CS_OK)
				return -ENOENT; /* the end of the list */
			free(addr);
		}
		if (match)
			return (int)n;
	}
	return -ENOENT;
}

/* A literal address is taken as it is; a name is resolved (first answer). */
static int to_numeric(const char *text, char *buf, size_t size)
{
	unsigned char bin[16];
	if (inet_pton(AF_INET, text, bin) == 1 || inet_pton(AF_INET6, text, bin) == 1) {
		snprintf(buf, size, "%s", text);
		return 0;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	if (getaddrinfo(text, NULL, &hints, &res) != 0 || !res)
		return -EINVAL;
	int r = getnameinfo(res->ai_addr, res->ai_addrlen, buf, (socklen_t)size, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	return r == 0 ? 0 : -EINVAL;
}

int cluster_ring_address(const char *node, char *buf, size_t size, char *why, size_t why_size)
{
	_cleanup_(cmap_finalizep) cmap_handle_t h = 0;
	cs_error_t e = cmap_initialize(&h);
	if (e != CS_OK) {
		h = 0;
		snprintf(why, why_size, "corosync is not reachable (cmap error %d)", (int)e);
		return -ENOTCONN;
	}
	int n = find_entry(h, node);
	if (n < 0) {
		snprintf(why, why_size, "the corosync nodelist has no entry for this node (%s)", node);
		return -ENOENT;
	}
	char key[128];
	_cleanup_free_ char *addr = NULL;
	snprintf(key, sizeof(key), "nodelist.node.%d.ring0_addr", n);
	if (cmap_get_string(h, key, &addr) != CS_OK) {
		snprintf(why, why_size, "%s is missing", key);
		return -ENOENT;
	}
	if (to_numeric(addr, buf, size) < 0) {
		snprintf(why, why_size, "%s '%s' does not resolve", key, addr);
		return -EINVAL;
	}
	return 0;
}
