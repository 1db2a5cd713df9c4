/* ctl-backup-driver.c - runs the pvecfsctl backup subcommands
 * (ctl_backup.h) until pvecfsctl's own table has them:
 * `ctl-backup-driver backup|verify|restore|export|import ARGS...`. */
#include <stdio.h>
#include <string.h>

#include "ctl_backup.h"

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const char *, int, char **);
	} cmds[] = {
		{ "backup", ctl_backup_main }, { "verify", ctl_verify_main }, { "restore", ctl_restore_main },
		{ "export", ctl_export_main }, { "import", ctl_import_main },
	};
	for (size_t i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(NULL, argc - 1, argv + 1);
	fprintf(stderr, "usage: %s backup|verify|restore|export|import ARGS...\n", argv[0]);
	return 2;
}
