/* cmdline.c - see cmdline.h.  The argument vector helpers. */
#include "cmdline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

int qemu_cmd_add(struct qemu_cmd *cmd, const char *arg)
{
	if (cmd->argc + 2 > cmd->argv_cap) {
		size_t cap = cmd->argv_cap ? cmd->argv_cap * 2 : 64;
		char **argv = realloc(cmd->argv, cap * sizeof(*argv));
		if (!argv)
			return -ENOMEM;
		cmd->argv = argv;
		cmd->argv_cap = cap;
	}
	char *copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	cmd->argv[cmd->argc++] = copy;
	cmd->argv[cmd->argc] = NULL;
	return 0;
}

int qemu_cmd_addf(struct qemu_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *arg = NULL;
	int n = vasprintf(&arg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	return qemu_cmd_add(cmd, arg);
}

void qemu_cmd_clear(struct qemu_cmd *cmd)
{
	for (size_t i = 0; i < cmd->argc; i++)
		free(cmd->argv[i]);
	free(cmd->argv);
	for (size_t i = 0; i < cmd->n_nics; i++)
		free(cmd->nics[i].bridge);
	free(cmd->nics);
	for (size_t i = 0; i < cmd->n_volumes; i++)
		free(cmd->volumes[i]);
	free(cmd->volumes);
	free(cmd->qmp_path);
	free(cmd->pid_path);
	memset(cmd, 0, sizeof(*cmd));
}

bool qemu_kvm_usable(void)
{
	_cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	return fd >= 0;
}
