/* testlib.h - a minimal unit-test harness for C tests.
 *
 * Define `static void test_something(void)` functions, list them with
 * TEST(test_something) in a `static const struct test tests[]` array and
 * end the file with TEST_MAIN(tests).  Each prints PASS:/FAIL: <file>:<name>.
 * CHECK*() failures are reported with file:line and fail the current test. */
#ifndef PVECFS_TESTLIB_H
#define PVECFS_TESTLIB_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test {
	const char *name;
	void (*fn)(void);
};
#define TEST(fn) { #fn, fn }

static int testlib_failed;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		testlib_failed = 1; return; \
	} } while (0)
#define CHECK_INT(a, b) do { \
	long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { \
		fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
			#a, _a, #b, _b); \
		testlib_failed = 1; return; \
	} } while (0)
#define CHECK_STR(a, b) do { \
	const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b) != 0) { \
		fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
			#a, _a ? _a : "(null)", _b ? _b : "(null)"); \
		testlib_failed = 1; return; \
	} } while (0)

static inline int testlib_run(const struct test *tests, size_t n, const char *prog, int argc, char **argv)
{
	int failures = 0;
	const char *base = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
	for (size_t i = 0; i < n; i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1]))
			continue;
		testlib_failed = 0;
		tests[i].fn();
		printf("%s: %s:%s\n", testlib_failed ? "FAIL" : "PASS", base, tests[i].name);
		fflush(stdout);
		failures += testlib_failed;
	}
	return failures ? 1 : 0;
}
#define TEST_MAIN(tests) \
	int main(int argc, char **argv) { \
		return testlib_run(tests, sizeof(tests) / sizeof(tests[0]), argv[0], argc, argv); \
	}

#endif
