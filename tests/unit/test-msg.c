/* test-msg.c - the wire format: round trips, and every kind of damage is
 * rejected as a whole. */
#include <errno.h>

#include "msg.h"
#include "testlib.h"

static void build_two_changes(struct msg_buf *b)
{
	struct change c1 = { .op = CHANGE_WRITE, .mtime = 1700000000, .path = "/storage.cfg",
			     .data = "dir: local\n", .size = 11 };
	struct change c2 = { .op = CHANGE_RENAME, .mtime = 1700000001, .expect_version = 7,
			     .path = "/a", .to = "/b" };
	msg_buf_init(b);
	msg_begin(b, MSG_CHANGES, 3, 0, 42);
	msg_put_u32(b, 2);
	msg_put_change(b, &c1);
	msg_put_change(b, &c2);
}

static void test_changes_round_trip(void)
{
	struct msg_buf b;
	build_two_changes(&b);
	CHECK_INT(msg_finish(&b), 0);
	struct msg_header h;
	struct msg_reader r;
	CHECK_INT(msg_open(b.data, b.len, &h, &r), 0);
	CHECK_INT(h.type, MSG_CHANGES);
	CHECK_INT(h.sender, 3);
	CHECK_INT(h.counter, 42);
	CHECK_INT(msg_get_u32(&r), 2);
	struct change c;
	CHECK_INT(msg_get_change(&r, h.sender, &c), 0);
	CHECK_INT(c.op, CHANGE_WRITE);
	CHECK_STR(c.path, "/storage.cfg");
	CHECK_INT(c.size, 11);
	CHECK(memcmp(c.data, "dir: local\n", 11) == 0);
	CHECK(c.to == NULL);
	CHECK_INT(c.writer, 3);
	CHECK_INT(msg_get_change(&r, h.sender, &c), 0);
	CHECK_INT(c.op, CHANGE_RENAME);
	CHECK_STR(c.to, "/b");
	CHECK_INT(c.expect_version, 7);
	CHECK_INT(msg_reader_done(&r), 0);
	msg_buf_free(&b);
}

static void test_every_flipped_byte_is_rejected(void)
{
	struct msg_buf b;
	build_two_changes(&b);
	CHECK_INT(msg_finish(&b), 0);
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b.data[i] ^= (uint8_t)(1 << bit);
			struct msg_header h;
			struct msg_reader r;
			int rc = msg_open(b.data, b.len, &h, &r);
			b.data[i] ^= (uint8_t)(1 << bit);
			if (rc != -EBADMSG && rc != -EPROTONOSUPPORT) {
				fprintf(stderr, "  byte %zu bit %d accepted\n", i, bit);
				CHECK(0);
			}
		}
	}
	msg_buf_free(&b);
}

static void test_truncated_frame_is_rejected(void)
{
	struct msg_buf b;
	build_two_changes(&b);
	CHECK_INT(msg_finish(&b), 0);
	struct msg_header h;
	struct msg_reader r;
	for (size_t len = 0; len < b.len; len++)
		CHECK_INT(msg_open(b.data, len, &h, &r), -EBADMSG);
	msg_buf_free(&b);
}

static void test_newer_protocol_is_reported(void)
{
	struct msg_buf b;
	msg_buf_init(&b);
	msg_begin(&b, MSG_CHANGES, 1, 0, 1);
	msg_put_u32(&b, 0);
	b.data[4] = MSG_PROTO_VERSION + 1;
	CHECK_INT(msg_finish(&b), 0);
	struct msg_header h;
	struct msg_reader r;
	CHECK_INT(msg_open(b.data, b.len, &h, &r), -EPROTONOSUPPORT);
	CHECK_INT(h.sender, 1);
	msg_buf_free(&b);
}

/* A frame with a valid CRC but a body that lies about its sizes. */
static void test_body_overrun_is_rejected(void)
{
	struct msg_buf b;
	msg_buf_init(&b);
	msg_begin(&b, MSG_CHANGES, 1, 0, 1);
	msg_put_u32(&b, 1);
	msg_put_u8(&b, CHANGE_WRITE);
	msg_put_u64(&b, 0);
	msg_put_u64(&b, 0);
	msg_put_u32(&b, 1000); /* path length beyond the frame */
	msg_put_bytes(&b, "/x", 3);
	CHECK_INT(msg_finish(&b), 0);
	struct msg_header h;
	struct msg_reader r;
	CHECK_INT(msg_open(b.data, b.len, &h, &r), 0);
	CHECK_INT(msg_get_u32(&r), 1);
	struct change c;
	CHECK_INT(msg_get_change(&r, 1, &c), -EBADMSG);
	msg_buf_free(&b);
}

static void test_bad_op_and_unterminated_path_are_rejected(void)
{
	struct msg_buf b;
	msg_buf_init(&b);
	msg_begin(&b, MSG_CHANGES, 1, 0, 1);
	msg_put_u8(&b, 99);
	msg_put_u64(&b, 0);
	msg_put_u64(&b, 0);
	msg_put_blob(&b, "/x", 3);
	msg_put_blob(&b, NULL, 0);
	msg_put_blob(&b, NULL, 0);
	msg_put_u8(&b, CHANGE_UNLINK);
	msg_put_u64(&b, 0);
	msg_put_u64(&b, 0);
	msg_put_blob(&b, "/x", 2); /* no NUL */
	msg_put_blob(&b, NULL, 0);
	msg_put_blob(&b, NULL, 0);
	CHECK_INT(msg_finish(&b), 0);
	struct msg_header h;
	struct msg_reader r;
	CHECK_INT(msg_open(b.data, b.len, &h, &r), 0);
	struct change c;
	CHECK_INT(msg_get_change(&r, 1, &c), -EBADMSG);
	CHECK_INT(msg_get_change(&r, 1, &c), -EBADMSG);
	msg_buf_free(&b);
}

/* A large, compressible change travels compressed and decodes exactly. */
static void test_large_body_is_compressed_and_round_trips(void)
{
	static char data[512 * 1024];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = "memory: 4096\ncores: 2\n"[i % 22];
	struct change c = { .op = CHANGE_WRITE, .mtime = 5, .path = "/big", .data = data, .size = sizeof(data) };
	struct msg_buf b;
	msg_buf_init(&b);
	msg_begin(&b, MSG_CHANGES, 2, 0, 7);
	msg_put_u32(&b, 1);
	msg_put_change(&b, &c);
	CHECK_INT(msg_finish(&b), 0);
	CHECK(b.len < sizeof(data) / 10);
	struct msg_header h;
	struct msg_reader r;
	CHECK_INT(msg_open(b.data, b.len, &h, &r), 0);
	CHECK(h.flags & MSG_FLAG_ZSTD);
	CHECK_INT(msg_get_u32(&r), 1);
	struct change got;
	CHECK_INT(msg_get_change(&r, h.sender, &got), 0);
	CHECK_INT(got.size, sizeof(data));
	CHECK(memcmp(got.data, data, sizeof(data)) == 0);
	CHECK_INT(msg_reader_done(&r), 0);
	msg_reader_release(&r);
	/* a damaged compressed body is refused even with a valid CRC */
	b.data[b.len - 3] ^= 0x55;
	b.data[12] = b.data[13] = b.data[14] = b.data[15] = 0;
	CHECK_INT(msg_finish(&b), 0);
	CHECK_INT(msg_open(b.data, b.len, &h, &r), -EBADMSG);
	msg_buf_free(&b);
}

/* Random data does not shrink: it is sent as it is. */
static void test_incompressible_body_is_sent_plain(void)
{
	static unsigned char data[64 * 1024];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(data); i++) {
		x = x * 1103515245 + 12345;
		data[i] = (unsigned char)(x >> 16);
	}
	struct change c = { .op = CHANGE_WRITE, .path = "/rnd", .data = data, .size = sizeof(data) };
	struct msg_buf b;
	msg_buf_init(&b);
	msg_begin(&b, MSG_CHANGES, 2, 0, 8);
	msg_put_u32(&b, 1);
	msg_put_change(&b, &c);
	CHECK_INT(msg_finish(&b), 0);
	struct msg_header h;
	struct msg_reader r;
	CHECK_INT(msg_open(b.data, b.len, &h, &r), 0);
	CHECK_INT(h.flags, 0);
	CHECK(b.len > sizeof(data));
	msg_buf_free(&b);
}

static const struct test tests[] = {
	TEST(test_large_body_is_compressed_and_round_trips),
	TEST(test_incompressible_body_is_sent_plain),
	TEST(test_changes_round_trip),
	TEST(test_every_flipped_byte_is_rejected),
	TEST(test_truncated_frame_is_rejected),
	TEST(test_newer_protocol_is_reported),
	TEST(test_body_overrun_is_rejected),
	TEST(test_bad_op_and_unterminated_path_are_rejected),
};
TEST_MAIN(tests)
