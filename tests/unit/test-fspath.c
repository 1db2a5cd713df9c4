/* test-fspath.c - the path rules of the mount: which paths are private,
 * the modes they get, and the access checks the daemon makes from them. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_path.h"
#include "testlib.h"

static void test_private_paths(void)
{
	CHECK(fs_path_is_private("/priv"));
	CHECK(fs_path_is_private("/priv/lock/x"));
	CHECK(fs_path_is_private("/nodes/n1/priv"));
	CHECK(fs_path_is_private("/nodes/n1/priv/key"));
	CHECK(!fs_path_is_private("/privx"));
	CHECK(!fs_path_is_private("/nodes/n1/privx"));
	CHECK(!fs_path_is_private("/nodes/priv"));
	CHECK(!fs_path_is_private("/storage.cfg"));
}

static void test_modes_follow_the_path(void)
{
	CHECK_INT(fs_path_mode("/nodes", TREE_DIR), S_IFDIR | 0755);
	CHECK_INT(fs_path_mode("/user.cfg", TREE_FILE), S_IFREG | 0640);
	CHECK_INT(fs_path_mode("/priv/lock", TREE_DIR), S_IFDIR | 0700);
	CHECK_INT(fs_path_mode("/nodes/n1/priv/key", TREE_FILE), S_IFREG | 0600);
	CHECK(fs_path_mode_is_private(S_IFREG | 0600));
	CHECK(fs_path_mode_is_private(S_IFDIR | 0700));
	CHECK(!fs_path_mode_is_private(S_IFREG | 0640));
	CHECK(!fs_path_mode_is_private(S_IFLNK | 0777));
}

static void test_group_reads_others_do_not(void)
{
	mode_t file = S_IFREG | 0640, dir = S_IFDIR | 0755;
	CHECK_INT(fs_path_check_access(file, false, true, R_OK), 0);
	CHECK_INT(fs_path_check_access(file, false, true, W_OK), -EACCES);
	CHECK_INT(fs_path_check_access(file, false, false, R_OK), -EACCES);
	CHECK_INT(fs_path_check_access(dir, false, false, R_OK | X_OK), 0);
	CHECK_INT(fs_path_check_access(dir, false, true, W_OK), -EACCES);
}

static void test_private_is_root_only(void)
{
	CHECK_INT(fs_path_check_access(S_IFDIR | 0700, false, true, X_OK), -EACCES);
	CHECK_INT(fs_path_check_access(S_IFREG | 0600, false, true, R_OK), -EACCES);
	CHECK_INT(fs_path_check_access(S_IFREG | 0600, true, false, R_OK | W_OK), 0);
	CHECK_INT(fs_path_check_access(S_IFDIR | 0700, true, false, X_OK), 0);
}

static void test_root_executes_only_with_an_x_bit(void)
{
	CHECK_INT(fs_path_check_access(S_IFREG | 0640, true, false, X_OK), -EACCES);
	CHECK_INT(fs_path_check_access(S_IFREG | 0750, true, false, X_OK), 0);
}

static const struct test tests[] = {
	TEST(test_private_paths),
	TEST(test_modes_follow_the_path),
	TEST(test_group_reads_others_do_not),
	TEST(test_private_is_root_only),
	TEST(test_root_executes_only_with_an_x_bit),
};

TEST_MAIN(tests)
