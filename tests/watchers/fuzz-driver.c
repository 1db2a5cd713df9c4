/* fuzz-driver.c - a main() for the fuzz targets, for the normal build.
 *
 * Each tests/watchers/fuzz-<parser>.c defines LLVMFuzzerTestOneInput.  In
 * the normal (and the ASan+UBSan) build this driver runs it on every file
 * of a seed corpus, then on deterministic mutations of those seeds (a
 * seeded xorshift PRNG: the same seed gives the same inputs on every
 * machine, so a failure reproduces).  A crash or a sanitizer report fails
 * the program; so does the time limit being hit before the first round of
 * mutations, which would mean the parser got pathologically slow.
 *
 *   fuzz-vmconf CORPUS_DIR [MUTATIONS [SEED [MAX_SECONDS]]]
 *
 * Longer, coverage-guided runs use libFuzzer (clang), built by hand, e.g.:
 *
 *   L=watchers/lib; for p in vmconf sectioncfg propstr; do
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
 *       -Icfs -I$L -o /tmp/fuzz-$p tests/watchers/fuzz-$p.c \
 *       $L/parse_error.c $L/value.c $L/propstr.c $L/textlines.c $L/vmconf.c \
 *       $L/vmconf_view.c $L/sectioncfg.c $L/cfgschema.c $L/schemas.c; done
 *   mkdir -p /tmp/corpus-vmconf && cp -r tests/watchers/corpus/vmconf/. /tmp/corpus-vmconf/
 *   /tmp/fuzz-vmconf -max_total_time=120 -max_len=4096 /tmp/corpus-vmconf
 *
 * libFuzzer brings its own main(): leave this file out of that build, or
 * compile it with -DFUZZ_LIBFUZZER, which empties it.
 */
#ifndef FUZZ_LIBFUZZER
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz-common.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define MAX_SEEDS 256

struct seed {
	uint8_t *data;
	size_t size;
};

struct corpus {
	size_t count;
	struct seed seeds[MAX_SEEDS];
};

static uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

static size_t rng_below(uint64_t *state, size_t n)
{
	return n ? (size_t)(rng_next(state) % n) : 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file(const char *path, struct seed *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	out->data = malloc(FUZZ_MAX_INPUT);
	out->size = out->data ? fread(out->data, 1, FUZZ_MAX_INPUT, f) : 0;
	fclose(f);
	return out->data ? 0 : -ENOMEM;
}

/* Load the corpus in name order so runs are reproducible. */
static int load_corpus(const char *dir, struct corpus *c)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	char *names[MAX_SEEDS];
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d)) && n < MAX_SEEDS;)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), compare_names);
	c->count = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (names[i] && read_file(path, &c->seeds[c->count]) == 0)
			c->count++;
		free(names[i]);
	}
	return 0;
}

/* Bytes that matter to the parsers, inserted more often than random ones. */
static const char *const tokens[] = {
	"\n", "\r\n", ":", ": ", "=", ",", ";", "[", "]", "#", "\t", " ", "%", "%4", "0", "1", "-1",
	"99999999999999999999", "G", "T", "net0: ", "scsi0: ", "virtio=", "[PENDING]\n", "[special:cloudinit]\n",
	"[snap]\n", "dir: ", "\tpath ", "memory: ", "order=", "size=", "\0", "AA:BB:CC:DD:EE:FF",
};

static void insert_bytes(uint8_t *buf, size_t *size, size_t at, const uint8_t *bytes, size_t n)
{
	if (*size + n > FUZZ_MAX_INPUT)
		return;
	memmove(buf + at + n, buf + at, *size - at);
	memcpy(buf + at, bytes, n);
	*size += n;
}

static void mutate_once(uint8_t *buf, size_t *size, const struct corpus *c, uint64_t *rng)
{
	size_t at = rng_below(rng, *size + 1);
	switch (rng_below(rng, 7)) {
	case 0: /* flip a bit */
		if (*size)
			buf[rng_below(rng, *size)] ^= (uint8_t)(1u << rng_below(rng, 8));
		break;
	case 1: { /* a random byte */
		uint8_t b = (uint8_t)rng_next(rng);
		insert_bytes(buf, size, at, &b, 1);
		break;
	}
	case 2: case 3: { /* a token */
		const char *t = tokens[rng_below(rng, sizeof(tokens) / sizeof(tokens[0]))];
		insert_bytes(buf, size, at, (const uint8_t *)t, t[0] ? strlen(t) : 1);
		break;
	}
	case 4: { /* delete a range */
		size_t n = rng_below(rng, *size - at + 1);
		memmove(buf + at, buf + at + n, *size - at - n);
		*size -= n;
		break;
	}
	case 5: { /* duplicate a range */
		size_t n = rng_below(rng, *size - at + 1);
		uint8_t tmp[256];
		n = n > sizeof(tmp) ? sizeof(tmp) : n;
		memcpy(tmp, buf + at, n);
		insert_bytes(buf, size, rng_below(rng, *size + 1), tmp, n);
		break;
	}
	default: { /* splice in part of another seed */
		const struct seed *s = &c->seeds[rng_below(rng, c->count)];
		size_t from = rng_below(rng, s->size + 1);
		size_t n = rng_below(rng, s->size - from + 1);
		insert_bytes(buf, size, at, s->data + from, n > 512 ? 512 : n);
		break;
	}
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS [SEED [MAX_SECONDS]]]\n", argv[0]);
		return 2;
	}
	long mutations = argc > 2 ? atol(argv[2]) : 5000;
	uint64_t rng = argc > 3 ? strtoull(argv[3], NULL, 0) : 0x5eed;
	long max_seconds = argc > 4 ? atol(argv[4]) : 25;
	if (rng == 0)
		rng = 1; /* xorshift must not start at 0 */
	static struct corpus corpus;
	int r = load_corpus(argv[1], &corpus);
	if (r < 0 || corpus.count == 0) {
		fprintf(stderr, "%s: no seeds in %s (%s)\n", argv[0], argv[1], r < 0 ? strerror(-r) : "empty");
		return 1;
	}
	for (size_t i = 0; i < corpus.count; i++)
		LLVMFuzzerTestOneInput(corpus.seeds[i].data, corpus.seeds[i].size);
	uint8_t *buf = malloc(FUZZ_MAX_INPUT);
	if (!buf)
		return 1;
	time_t start = time(NULL);
	long done = 0;
	for (; done < mutations; done++) {
		if (done % 256 == 0 && time(NULL) - start > max_seconds)
			break;
		const struct seed *s = &corpus.seeds[rng_below(&rng, corpus.count)];
		size_t size = s->size;
		memcpy(buf, s->data, size);
		for (size_t k = 1 + rng_below(&rng, 8); k > 0; k--)
			mutate_once(buf, &size, &corpus, &rng);
		/* Hand the target an exactly sized heap copy so ASan sees
		 * any read past the end. */
		uint8_t *input = malloc(size ? size : 1);
		memcpy(input, buf, size);
		LLVMFuzzerTestOneInput(input, size);
		free(input);
	}
	free(buf);
	for (size_t i = 0; i < corpus.count; i++)
		free(corpus.seeds[i].data);
	printf("%s: %zu seeds, %ld of %ld mutations in %lds\n", argv[0], corpus.count, done, mutations,
	       (long)(time(NULL) - start));
	if (done < 256 && done < mutations) {
		fprintf(stderr, "%s: too slow, only %ld mutations in %lds\n", argv[0], done, max_seconds);
		return 1;
	}
	return 0;
}
#endif /* FUZZ_LIBFUZZER */
