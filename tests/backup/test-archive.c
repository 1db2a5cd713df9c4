/* test-archive.c - vzdump archive names, listing, grouping and removal. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup_archive.h"
#include "testlib.h"

static char dir[] = "/tmp/pvecfs-test-archive.XXXXXX";

static void touch(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		abort();
	close(fd);
}

static bool exists(const char *name)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

static void empty_dir(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "find '%s' -mindepth 1 -delete", dir);
	if (system(cmd) != 0)
		abort();
}

static void test_parse_names(void)
{
	struct backup_archive a;
	CHECK_INT(backup_archive_parse_name("vzdump-qemu-100-2024_01_31-02_00_05.vma.zst", &a), 0);
	CHECK_STR(a.type, "qemu");
	CHECK_INT(a.vmid, 100);
	CHECK_INT(a.time, 1706666405); /* 2024-01-31 02:00:05 UTC */
	CHECK_INT(a.stem_len, strlen("vzdump-qemu-100-2024_01_31-02_00_05"));
	CHECK(!a.is_protected);
	CHECK_INT(backup_archive_parse_name("vzdump-qemu-100-2024_01_31-02_00_05.vma", &a), 0);
	CHECK_INT(backup_archive_parse_name("vzdump-qemu-9999-2024_01_31-02_00_05.vma.gz", &a), 0);
	CHECK_INT(a.vmid, 9999);
	CHECK_INT(backup_archive_parse_name("vzdump-qemu-100-2024_01_31-02_00_05.vma.lzo", &a), 0);
	CHECK_INT(backup_archive_parse_name("vzdump-lxc-101-2024_02_29-23_59_59.tar.zst", &a), 0);
	CHECK_STR(a.type, "lxc");
	CHECK_INT(backup_archive_parse_name("vzdump-qemu-100-2024_01_31-02_00_05.tar", &a), 0);
}

static void test_unrelated_names_are_not_archives(void)
{
	struct backup_archive a;
	static const char *const names[] = {
		"vzdump-qemu-100-2024_01_31-02_00_05.log",
		"vzdump-qemu-100-2024_01_31-02_00_05.vma.zst.notes",
		"vzdump-qemu-100-2024_01_31-02_00_05.vma.zst.protected",
		"vzdump-qemu-100-2024_01_31-02_00_05.vma.dat",
		"vzdump-qemu-100-2024_01_31-02_00_05.vma.zst.tmp",
		"vzdump-qemu-100-2024_01_31-02_00_05.vma.xz",
		"vzdump-qemu-100-2024_02_30-02_00_05.vma",
		"vzdump-qemu-100-2024_13_01-02_00_05.vma",
		"vzdump-qemu-100-2024_01_31-24_00_05.vma",
		"vzdump-qemu-100-2024_1_31-02_00_05.vma",
		"vzdump-qemu-0100-2024_01_31-02_00_05.vma",
		"vzdump-qemu--2024_01_31-02_00_05.vma",
		"vzdump-openvz-100-2024_01_31-02_00_05.tar",
		"vzdump-qemu-100-2024_01_31-02_00_05",
		"backup.vma.zst",
		"",
		".",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (backup_archive_parse_name(names[i], &a) != -EINVAL) {
			fprintf(stderr, "  accepted '%s'\n", names[i]);
			CHECK(false);
		}
	}
}

static void test_list_filters_and_reads_protection(void)
{
	struct backup_archive *list = NULL;
	size_t n = 0;
	empty_dir();
	touch("vzdump-qemu-100-2024_01_01-00_00_00.vma.zst");
	touch("vzdump-qemu-100-2024_01_01-00_00_00.log");
	touch("vzdump-qemu-100-2024_01_02-00_00_00.vma.zst");
	touch("vzdump-qemu-100-2024_01_02-00_00_00.vma.zst.protected");
	touch("vzdump-qemu-200-2024_01_02-00_00_00.vma");
	touch("notes.txt");
	CHECK_INT(backup_archive_list(dir, 0, &list, &n), 0);
	CHECK_INT(n, 3);
	free(list);
	CHECK_INT(backup_archive_list(dir, 100, &list, &n), 0);
	CHECK_INT(n, 2);
	int protected_count = 0;
	for (size_t i = 0; i < n; i++)
		if (list[i].is_protected) {
			protected_count++;
			CHECK_STR(list[i].name, "vzdump-qemu-100-2024_01_02-00_00_00.vma.zst");
		}
	free(list);
	CHECK_INT(protected_count, 1);
	CHECK_INT(backup_archive_list("/nonexistent-pvecfs-dir", 0, &list, &n), -ENOENT);
}

static void test_plan_prunes_each_guest_separately(void)
{
	struct backup_archive a[5];
	struct prune_spec spec;
	const char *names[] = {
		"vzdump-qemu-200-2024_01_01-00_00_00.vma", "vzdump-qemu-100-2024_01_01-00_00_00.vma",
		"vzdump-qemu-100-2024_01_03-00_00_00.vma", "vzdump-qemu-200-2024_01_02-00_00_00.vma",
		"vzdump-qemu-100-2024_01_02-00_00_00.vma",
	};
	for (int i = 0; i < 5; i++)
		CHECK_INT(backup_archive_parse_name(names[i], &a[i]), 0);
	CHECK_INT(prune_spec_parse("keep-last=1", &spec, NULL, 0), 0);
	CHECK_INT(backup_plan_prune(&spec, a, 5), 0);
	CHECK_STR(a[0].name, "vzdump-qemu-100-2024_01_03-00_00_00.vma");
	CHECK_INT(a[0].reason, PRUNE_REASON_KEEP_LAST);
	CHECK_INT(a[1].reason, PRUNE_REASON_REMOVE);
	CHECK_INT(a[2].reason, PRUNE_REASON_REMOVE);
	CHECK_STR(a[3].name, "vzdump-qemu-200-2024_01_02-00_00_00.vma");
	CHECK_INT(a[3].reason, PRUNE_REASON_KEEP_LAST);
	CHECK_INT(a[4].reason, PRUNE_REASON_REMOVE);
}

static void test_remove_takes_siblings_only(void)
{
	struct backup_archive a, b;
	empty_dir();
	touch("vzdump-qemu-100-2024_01_01-00_00_00.vma.zst");
	touch("vzdump-qemu-100-2024_01_01-00_00_00.log");
	touch("vzdump-qemu-100-2024_01_01-00_00_00.vma.zst.notes");
	touch("vzdump-qemu-100-2024_01_02-00_00_00.vma.zst");
	touch("vzdump-qemu-100-2024_01_02-00_00_00.log");
	CHECK_INT(backup_archive_parse_name("vzdump-qemu-100-2024_01_01-00_00_00.vma.zst", &a), 0);
	CHECK_INT(backup_archive_remove(dir, &a), 0);
	CHECK(!exists("vzdump-qemu-100-2024_01_01-00_00_00.vma.zst"));
	CHECK(!exists("vzdump-qemu-100-2024_01_01-00_00_00.log"));
	CHECK(!exists("vzdump-qemu-100-2024_01_01-00_00_00.vma.zst.notes"));
	CHECK(exists("vzdump-qemu-100-2024_01_02-00_00_00.vma.zst"));
	CHECK(exists("vzdump-qemu-100-2024_01_02-00_00_00.log"));
	/* already gone: the archive itself must exist */
	CHECK_INT(backup_archive_remove(dir, &a), -ENOENT);
	/* a marker that appeared after listing still protects it */
	touch("vzdump-qemu-100-2024_01_02-00_00_00.vma.zst.protected");
	CHECK_INT(backup_archive_parse_name("vzdump-qemu-100-2024_01_02-00_00_00.vma.zst", &b), 0);
	CHECK_INT(backup_archive_remove(dir, &b), -EPERM);
	CHECK(exists("vzdump-qemu-100-2024_01_02-00_00_00.vma.zst"));
	CHECK(exists("vzdump-qemu-100-2024_01_02-00_00_00.log"));
}

static const struct test tests[] = {
	TEST(test_parse_names),
	TEST(test_unrelated_names_are_not_archives),
	TEST(test_list_filters_and_reads_protection),
	TEST(test_plan_prunes_each_guest_separately),
	TEST(test_remove_takes_siblings_only),
};

int main(int argc, char **argv)
{
	char cmd[600];
	setenv("TZ", "UTC", 1);
	tzset();
	if (!mkdtemp(dir))
		return 1;
	int r = testlib_run(tests, sizeof(tests) / sizeof(tests[0]), argv[0], argc, argv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		r = 1;
	return r;
}
