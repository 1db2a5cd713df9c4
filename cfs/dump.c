/* dump.c - see dump.h.  Capture (under the tree's read lock), then
 * serialise from the captured snapshot. */
#include "dump.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive_format.h"
#include "cleanup.h"

struct snap_node {
	struct tree_attr attr;
	char *name;
	char *path;              /* relative to the root, "" for the root */
	struct tree_blob *blob;  /* files: a reference, NULL for directories */
};

struct snapshot {
	uint64_t version;
	char checksum[65];
	bool have_state; /* version/checksum/root read inside the walk */
	GArray *nodes;   /* struct snap_node; [0] is the root */
	struct tree *tree;
};

static void snapshot_clear(struct snapshot *s)
{
	for (guint i = 0; s->nodes && i < s->nodes->len; i++) {
		struct snap_node *n = &g_array_index(s->nodes, struct snap_node, i);
		free(n->name);
		free(n->path);
		tree_blob_unref(n->blob);
	}
	if (s->nodes)
		g_array_free(s->nodes, TRUE);
	s->nodes = NULL;
	s->have_state = false;
}

static int snapshot_add(struct snapshot *s, const struct tree_attr *attr, const char *name,
			const struct tree_blob *blob)
{
	struct snap_node n = { .attr = *attr, .name = strdup(name) };
	if (!n.name)
		return -ENOMEM;
	/* The blob is immutable and reference counted: holding a reference
	 * keeps this version's content without copying it. */
	n.blob = tree_blob_ref((struct tree_blob *)blob);
	g_array_append_val(s->nodes, n);
	return 0;
}

/* The global state read inside the walk: the read lock is held, so the
 * version, the root and the checksum belong to the same tree as the nodes. */
static int read_state(struct snapshot *s)
{
	struct tree_attr root;
	if (tree_getattr(s->tree, TREE_ROOT_INODE, &root) < 0)
		return -EIO;
	s->version = tree_version(s->tree);
	tree_checksum(s->tree, s->checksum);
	g_array_index(s->nodes, struct snap_node, 0).attr = root;
	s->have_state = true;
	return 0;
}

static int walk_node(void *ctx, const struct tree_attr *attr, const char *name,
		     const struct tree_blob *blob)
{
	struct snapshot *s = ctx;
	if (!s->have_state) {
		int r = read_state(s);
		if (r < 0)
			return r;
	}
	return snapshot_add(s, attr, name, blob);
}

static int capture_once(struct snapshot *s)
{
	s->nodes = g_array_new(FALSE, TRUE, sizeof(struct snap_node));
	struct tree_attr root = { .inode = TREE_ROOT_INODE, .type = TREE_DIR };
	int r = snapshot_add(s, &root, "", NULL);
	if (r < 0)
		return r;
	r = tree_walk(s->tree, walk_node, s);
	if (r != 0)
		return r < 0 ? r : -EIO;
	if (s->have_state)
		return 0;
	/* Nothing but the root: no callback ran, so read the state outside a
	 * walk and accept it only if nothing changed meanwhile. */
	uint64_t before = tree_version(s->tree);
	r = read_state(s);
	if (r < 0)
		return r;
	size_t inodes;
	tree_usage(s->tree, &inodes, NULL);
	if (tree_version(s->tree) != before || s->version != before || inodes != 1)
		return -EAGAIN;
	return 0;
}

static int capture(struct tree *t, struct snapshot *s)
{
	*s = (struct snapshot){ .tree = t };
	for (int attempt = 0; attempt < 1000; attempt++) {
		int r = capture_once(s);
		if (r != -EAGAIN)
			return r;
		snapshot_clear(s);
	}
	return -EAGAIN;
}

/* ---- paths ---- */

static const char *node_path(struct snapshot *s, GHashTable *index, struct snap_node *n, int depth)
{
	if (n->path)
		return n->path;
	if (n->attr.inode == TREE_ROOT_INODE)
		return n->path = strdup("");
	struct snap_node *p = g_hash_table_lookup(index, &n->attr.parent);
	if (!p || depth > 4096)
		return NULL; /* cannot happen in a consistent tree */
	const char *pp = node_path(s, index, p, depth + 1);
	if (!pp)
		return NULL;
	if (asprintf(&n->path, "%s%s%s", pp, *pp ? "/" : "", n->name) < 0)
		n->path = NULL;
	return n->path;
}

static int compare_paths(const void *a, const void *b)
{
	return strcmp(((const struct snap_node *)a)->path, ((const struct snap_node *)b)->path);
}

/* Gives every node its path and sorts by it: the root first, parents
 * before children, the same order on every run. */
static int resolve_paths(struct snapshot *s)
{
	GHashTable *index = g_hash_table_new(g_int64_hash, g_int64_equal);
	int r = 0;
	for (guint i = 0; i < s->nodes->len; i++) {
		struct snap_node *n = &g_array_index(s->nodes, struct snap_node, i);
		g_hash_table_insert(index, &n->attr.inode, n);
	}
	for (guint i = 0; i < s->nodes->len && r == 0; i++)
		if (!node_path(s, index, &g_array_index(s->nodes, struct snap_node, i), 0))
			r = -EIO;
	g_hash_table_destroy(index);
	if (r == 0)
		g_array_sort(s->nodes, compare_paths);
	return r;
}

/* ---- serialising ---- */

struct sink {
	dump_write_fn write;
	void *ctx;
	GChecksum *sha;
	uint64_t bytes;
};

static int sink_put(struct sink *k, const void *data, size_t size)
{
	if (!size)
		return 0;
	g_checksum_update(k->sha, data, size);
	k->bytes += size;
	return k->write(k->ctx, data, size);
}

static int put_record(struct sink *k, uint32_t type, const char *name, const void *head, size_t head_size,
		      const void *data, size_t size)
{
	uint8_t rh[ARCHIVE_RECORD_HEADER_SIZE];
	size_t name_len = name ? strlen(name) : 0;
	archive_encode_record_header(rh, type, (uint32_t)name_len, head_size + size, head_size + size);
	int r = sink_put(k, rh, sizeof(rh));
	if (r == 0)
		r = sink_put(k, name, name_len);
	if (r == 0)
		r = sink_put(k, head, head_size);
	if (r == 0)
		r = sink_put(k, data, size);
	return r;
}

static char *sha256_hex(const void *data, size_t size)
{
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, size);
}

static json_object *manifest_file(const struct snap_node *n)
{
	json_object *f = json_object_new_object();
	bool dir = n->attr.type == TREE_DIR;
	json_object_object_add(f, "path", json_object_new_string(n->path));
	json_object_object_add(f, "type", json_object_new_string(dir ? "dir" : "file"));
	json_object_object_add(f, "inode", json_object_new_uint64(n->attr.inode));
	json_object_object_add(f, "parent", json_object_new_uint64(n->attr.parent));
	json_object_object_add(f, "version", json_object_new_uint64(n->attr.version));
	json_object_object_add(f, "mtime", json_object_new_int64(n->attr.mtime));
	json_object_object_add(f, "writer", json_object_new_int64(n->attr.writer));
	if (!dir) {
		json_object_object_add(f, "size", json_object_new_uint64(n->blob ? n->blob->size : 0));
		g_autofree char *hex = sha256_hex(n->blob ? n->blob->data : "", n->blob ? n->blob->size : 0);
		json_object_object_add(f, "sha256", json_object_new_string(hex));
	}
	return f;
}

static char *manifest_json(const struct snapshot *s, const struct dump_info *info)
{
	const struct snap_node *root = &g_array_index(s->nodes, struct snap_node, 0);
	json_object *m = json_object_new_object();
	json_object_object_add(m, "format", json_object_new_string("pvecfs-backup"));
	json_object_object_add(m, "format_version", json_object_new_int(ARCHIVE_VERSION));
	json_object_object_add(m, "cluster", json_object_new_string(info->cluster ? info->cluster : ""));
	json_object_object_add(m, "node", json_object_new_string(info->node ? info->node : ""));
	json_object_object_add(m, "version", json_object_new_uint64(s->version));
	json_object_object_add(m, "time", json_object_new_int64(info->time ? info->time : (int64_t)time(NULL)));
	json_object_object_add(m, "tree_checksum", json_object_new_string(s->checksum));
	json_object_object_add(m, "entries", json_object_new_uint64(s->nodes->len));
	json_object *r = json_object_new_object();
	json_object_object_add(r, "version", json_object_new_uint64(root->attr.version));
	json_object_object_add(r, "mtime", json_object_new_int64(root->attr.mtime));
	json_object_object_add(r, "writer", json_object_new_int64(root->attr.writer));
	json_object_object_add(m, "root", r);
	json_object *files = json_object_new_array();
	for (guint i = 1; i < s->nodes->len; i++)
		json_object_array_add(files, manifest_file(&g_array_index(s->nodes, struct snap_node, i)));
	json_object_object_add(m, "files", files);
	char *text = strdup(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(m);
	return text;
}

static int put_entry(struct sink *k, const struct snap_node *n)
{
	uint8_t eh[ARCHIVE_ENTRY_HEADER_SIZE];
	struct archive_entry_header h = {
		.inode = n->attr.inode, .parent = n->attr.parent, .version = n->attr.version,
		.mtime = n->attr.mtime, .writer = n->attr.writer, .type = (uint32_t)n->attr.type,
	};
	archive_encode_entry_header(eh, &h);
	return put_record(k, ARCHIVE_RECORD_ENTRY, n->path, eh, sizeof(eh), n->blob ? n->blob->data : NULL,
			  n->blob ? n->blob->size : 0);
}

static int serialise(const struct snapshot *s, const struct dump_info *info, struct sink *k)
{
	uint8_t header[ARCHIVE_HEADER_SIZE];
	archive_encode_header(header, 0);
	int r = sink_put(k, header, sizeof(header));
	if (r < 0)
		return r;
	_cleanup_free_ char *manifest = manifest_json(s, info);
	if (!manifest)
		return -ENOMEM;
	r = put_record(k, ARCHIVE_RECORD_MANIFEST, NULL, NULL, 0, manifest, strlen(manifest));
	for (guint i = 0; r == 0 && i < s->nodes->len; i++)
		r = put_entry(k, &g_array_index(s->nodes, struct snap_node, i));
	uint8_t count[8];
	archive_put_le(count, s->nodes->len, 8);
	if (r == 0)
		r = put_record(k, ARCHIVE_RECORD_END, NULL, NULL, 0, count, sizeof(count));
	if (r < 0)
		return r;
	uint8_t trailer[ARCHIVE_TRAILER_SIZE];
	memcpy(trailer, ARCHIVE_TAIL_MAGIC, 8);
	archive_put_le(trailer + 8, k->bytes, 8);
	gsize len = 32;
	g_checksum_get_digest(k->sha, trailer + 16, &len);
	return k->write(k->ctx, trailer, sizeof(trailer));
}

int dump_tree(struct tree *t, const struct dump_info *info, dump_write_fn write, void *ctx,
	      struct dump_summary *summary)
{
	struct snapshot s;
	int r = capture(t, &s);
	if (r == 0)
		r = resolve_paths(&s);
	struct sink k = { .write = write, .ctx = ctx, .sha = g_checksum_new(G_CHECKSUM_SHA256) };
	if (r == 0)
		r = serialise(&s, info, &k);
	if (r == 0 && summary) {
		*summary = (struct dump_summary){
			.version = s.version, .entries = s.nodes->len, .bytes = k.bytes + ARCHIVE_TRAILER_SIZE,
		};
		memcpy(summary->checksum, s.checksum, sizeof(s.checksum));
	}
	g_checksum_free(k.sha);
	snapshot_clear(&s);
	return r;
}

static int write_fd(void *ctx, const void *data, size_t size)
{
	int fd = *(int *)ctx;
	const char *p = data;
	while (size > 0) {
		ssize_t n = write(fd, p, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		size -= (size_t)n;
	}
	return 0;
}

int dump_tree_to_file(struct tree *t, const struct dump_info *info, const char *path,
		      struct dump_summary *summary)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	int r = dump_tree(t, info, write_fd, &fd, summary);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}
