/* restore_diff.c - see restore_diff.h. */
#include "restore_diff.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

struct rd_set {
	GArray *nodes;   /* struct rd_node, sorted by path */
	GPtrArray *owned; /* content buffers this set owns */
};

enum rd_op { RD_CREATE = '+', RD_MODIFY = '~', RD_DELETE = '-' };

struct rd_change {
	enum rd_op op;
	char *path;
	enum tree_type type;
	bool content;               /* a file's content is written */
	const struct rd_node *want; /* create/modify */
};

struct rd_plan {
	GArray *changes; /* struct rd_change, in display (path) order */
	const struct rd_set *want;
};

/* ---- what is never compared ---- */

static bool under_lock_dir(const char *path)
{
	if (g_str_has_prefix(path, "priv/lock/"))
		return true;
	if (!g_str_has_prefix(path, "nodes/"))
		return false;
	const char *rest = strchr(path + strlen("nodes/"), '/');
	return rest && g_str_has_prefix(rest, "/priv/lock/");
}

static bool rd_ignored(const char *path)
{
	/* Top-level dot entries are the virtual files (and .git in an export). */
	return path[0] == '.' || under_lock_dir(path);
}

static int compare_nodes(const void *a, const void *b)
{
	return strcmp(((const struct rd_node *)a)->path, ((const struct rd_node *)b)->path);
}

static struct rd_set *set_new(void)
{
	struct rd_set *s = g_new0(struct rd_set, 1);
	s->nodes = g_array_new(FALSE, TRUE, sizeof(struct rd_node));
	s->owned = g_ptr_array_new_with_free_func(g_free);
	return s;
}

void rd_set_free(struct rd_set *s)
{
	if (!s)
		return;
	for (guint i = 0; i < s->nodes->len; i++)
		g_free(g_array_index(s->nodes, struct rd_node, i).path);
	g_array_free(s->nodes, TRUE);
	g_ptr_array_free(s->owned, TRUE);
	g_free(s);
}

int rd_set_from_archive(const struct archive *a, struct rd_set **out)
{
	struct rd_set *s = set_new();
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct archive_entry *e = &a->entries[i];
		if (*e->path && rd_ignored(e->path))
			continue;
		struct rd_node n = { .path = g_strdup(e->path), .type = e->attr.type, .mtime = e->attr.mtime,
				     .data = e->data, .size = e->size };
		g_array_append_val(s->nodes, n);
	}
	g_array_sort(s->nodes, compare_nodes);
	*out = s;
	return 0;
}

/* ---- scanning a directory ---- */

struct scan {
	const char *top;
	GArray *nodes;      /* struct rd_node (data NULL unless read) */
	GPtrArray *owned;   /* when reading content */
	char **why;
};

static char *join(const char *a, const char *b)
{
	return *a ? g_strconcat(a, "/", b, NULL) : g_strdup(b);
}

static int read_content(const char *full, struct rd_node *n, GPtrArray *owned, char **why)
{
	gchar *data = NULL;
	gsize size = 0;
	GError *err = NULL;
	if (!g_file_get_contents(full, &data, &size, &err)) {
		*why = g_strdup_printf("cannot read %s: %s", full, err->message);
		g_error_free(err);
		return -EIO;
	}
	g_ptr_array_add(owned, data);
	n->data = (const uint8_t *)data;
	n->size = size;
	return 0;
}

static int scan_dir(struct scan *sc, const char *rel)
{
	g_autofree char *full = *rel ? g_strconcat(sc->top, "/", rel, NULL) : g_strdup(sc->top);
	DIR *d = opendir(full);
	if (!d) {
		*sc->why = g_strdup_printf("cannot read directory %s: %m", full);
		return -errno;
	}
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		g_autofree char *path = join(rel, e->d_name);
		if (rd_ignored(path))
			continue;
		g_autofree char *fp = g_strconcat(sc->top, "/", path, NULL);
		struct stat st;
		if (lstat(fp, &st) < 0) {
			*sc->why = g_strdup_printf("cannot stat %s: %m", fp);
			r = -errno;
			break;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue; /* symlinks (local, qemu-server, lxc) and anything odd */
		struct rd_node n = { .path = g_strdup(path), .type = S_ISDIR(st.st_mode) ? TREE_DIR : TREE_FILE,
				     .mtime = st.st_mtim.tv_sec, .size = (size_t)st.st_size };
		if (n.type == TREE_FILE && sc->owned)
			r = read_content(fp, &n, sc->owned, sc->why);
		g_array_append_val(sc->nodes, n);
		if (r == 0 && n.type == TREE_DIR)
			r = scan_dir(sc, path);
	}
	closedir(d);
	return r;
}

static int scan_top(const char *top, GArray *nodes, GPtrArray *owned, char **why)
{
	struct stat st;
	if (stat(top, &st) < 0) {
		*why = g_strdup_printf("cannot access %s: %m", top);
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		*why = g_strdup_printf("%s is not a directory", top);
		return -ENOTDIR;
	}
	struct rd_node root = { .path = g_strdup(""), .type = TREE_DIR, .mtime = st.st_mtim.tv_sec };
	g_array_append_val(nodes, root);
	struct scan sc = { .top = top, .nodes = nodes, .owned = owned, .why = why };
	int r = scan_dir(&sc, "");
	g_array_sort(nodes, compare_nodes);
	return r;
}

int rd_set_from_dir(const char *dir, struct rd_set **out, char **why)
{
	struct rd_set *s = set_new();
	int r = scan_top(dir, s->nodes, s->owned, why);
	if (r < 0) {
		rd_set_free(s);
		return r;
	}
	*out = s;
	return 0;
}

/* ---- planning ---- */

static void add_change(struct rd_plan *p, enum rd_op op, const char *path, enum tree_type type, bool content,
		       const struct rd_node *want)
{
	struct rd_change c = { .op = op, .path = g_strdup(path), .type = type, .content = content, .want = want };
	g_array_append_val(p->changes, c);
}

static bool content_differs(const char *live, const struct rd_node *have, const struct rd_node *want)
{
	if (have->size != want->size)
		return true;
	g_autofree char *fp = g_strconcat(live, "/", want->path, NULL);
	gchar *data = NULL;
	gsize size = 0;
	if (!g_file_get_contents(fp, &data, &size, NULL))
		return true;
	bool differs = size != want->size || (size && memcmp(data, want->data, size) != 0);
	g_free(data);
	return differs;
}

static void plan_wanted(struct rd_plan *p, const char *live, GHashTable *have_by_path)
{
	for (guint i = 0; i < p->want->nodes->len; i++) {
		const struct rd_node *w = &g_array_index(p->want->nodes, struct rd_node, i);
		const struct rd_node *h = g_hash_table_lookup(have_by_path, w->path);
		if (!h) {
			add_change(p, RD_CREATE, w->path, w->type, w->type == TREE_FILE, w);
		} else if (h->type != w->type) {
			add_change(p, RD_DELETE, h->path, h->type, false, NULL);
			add_change(p, RD_CREATE, w->path, w->type, w->type == TREE_FILE, w);
		} else if (w->type == TREE_FILE && content_differs(live, h, w)) {
			add_change(p, RD_MODIFY, w->path, w->type, true, w);
		} else if (w->type == TREE_FILE && h->mtime != w->mtime) {
			/* A directory's mtime alone is no change: creating .git in an
			 * export, or any file below, moves it. */
			add_change(p, RD_MODIFY, w->path, w->type, false, w);
		}
	}
}

static int compare_changes(const void *a, const void *b)
{
	const struct rd_change *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	/* For a type change, the deletion is shown (and done) first. */
	return c ? c : (x->op == RD_DELETE ? -1 : y->op == RD_DELETE ? 1 : 0);
}

int rd_plan_make(const char *live, const struct rd_set *want, struct rd_plan **out, char **why)
{
	g_autoptr(GArray) have = g_array_new(FALSE, TRUE, sizeof(struct rd_node));
	int r = scan_top(live, have, NULL, why);
	if (r < 0) {
		for (guint i = 0; i < have->len; i++)
			g_free(g_array_index(have, struct rd_node, i).path);
		return r;
	}
	GHashTable *have_by_path = g_hash_table_new(g_str_hash, g_str_equal);
	GHashTable *want_paths = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < have->len; i++) {
		struct rd_node *h = &g_array_index(have, struct rd_node, i);
		g_hash_table_insert(have_by_path, h->path, h);
	}
	for (guint i = 0; i < want->nodes->len; i++)
		g_hash_table_add(want_paths, g_array_index(want->nodes, struct rd_node, i).path);

	struct rd_plan *p = g_new0(struct rd_plan, 1);
	p->changes = g_array_new(FALSE, TRUE, sizeof(struct rd_change));
	p->want = want;
	plan_wanted(p, live, have_by_path);
	for (guint i = 0; i < have->len; i++) {
		struct rd_node *h = &g_array_index(have, struct rd_node, i);
		if (!g_hash_table_contains(want_paths, h->path))
			add_change(p, RD_DELETE, h->path, h->type, false, NULL);
	}
	g_array_sort(p->changes, compare_changes);
	g_hash_table_destroy(have_by_path);
	g_hash_table_destroy(want_paths);
	for (guint i = 0; i < have->len; i++)
		g_free(g_array_index(have, struct rd_node, i).path);
	*out = p;
	return 0;
}

size_t rd_plan_count(const struct rd_plan *p)
{
	return p->changes->len;
}

void rd_plan_print(const struct rd_plan *p, FILE *out)
{
	for (guint i = 0; i < p->changes->len; i++) {
		const struct rd_change *c = &g_array_index(p->changes, struct rd_change, i);
		bool dir = c->type == TREE_DIR;
		fprintf(out, "%c %s%s%s\n", c->op, c->path, dir ? "/" : "",
			c->op == RD_MODIFY && !c->content ? " (mtime)" : "");
	}
}

void rd_plan_free(struct rd_plan *p)
{
	if (!p)
		return;
	for (guint i = 0; i < p->changes->len; i++)
		g_free(g_array_index(p->changes, struct rd_change, i).path);
	g_array_free(p->changes, TRUE);
	g_free(p);
}

/* ---- applying ---- */

static int fail_path(char **why, int r, const char *what, const char *path)
{
	*why = g_strdup_printf("%s %s: %s", what, *path ? path : "/", strerror(-r));
	return r;
}

static int write_file(const char *full, const struct rd_node *w)
{
	_cleanup_close_ int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	size_t done = 0;
	while (done < w->size) {
		ssize_t n = write(fd, w->data + done, w->size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	/* On a pvecfs mount the change is applied at close: its error counts. */
	int r = close(TAKE_FD(fd));
	return r < 0 ? -errno : 0;
}

static int set_mtime(const char *full, int64_t mtime)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)mtime } };
	return utimensat(AT_FDCWD, full, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int apply_deletions(const struct rd_plan *p, const char *live, char **why)
{
	for (guint i = p->changes->len; i-- > 0;) {
		const struct rd_change *c = &g_array_index(p->changes, struct rd_change, i);
		if (c->op != RD_DELETE)
			continue;
		g_autofree char *full = g_strconcat(live, "/", c->path, NULL);
		if ((c->type == TREE_DIR ? rmdir(full) : unlink(full)) < 0)
			return fail_path(why, -errno, "cannot delete", c->path);
	}
	return 0;
}

static int apply_contents(const struct rd_plan *p, const char *live, char **why)
{
	for (guint i = 0; i < p->changes->len; i++) {
		const struct rd_change *c = &g_array_index(p->changes, struct rd_change, i);
		if (c->op == RD_DELETE || (c->op == RD_MODIFY && !c->content))
			continue;
		g_autofree char *full = g_strconcat(live, "/", c->path, NULL);
		if (c->type == TREE_DIR) {
			if (mkdir(full, 0755) < 0)
				return fail_path(why, -errno, "cannot create directory", c->path);
			continue;
		}
		int r = write_file(full, c->want);
		if (r == 0)
			r = set_mtime(full, c->want->mtime);
		if (r < 0)
			return fail_path(why, r, "cannot write", c->path);
	}
	return 0;
}

/* Creating and deleting entries touched directory mtimes: put back every
 * wanted one, children before parents. */
static int apply_dir_mtimes(const struct rd_plan *p, const char *live, char **why)
{
	for (guint i = p->want->nodes->len; i-- > 0;) {
		const struct rd_node *w = &g_array_index(p->want->nodes, struct rd_node, i);
		g_autofree char *full = *w->path ? g_strconcat(live, "/", w->path, NULL) : g_strdup(live);
		struct stat st;
		if (lstat(full, &st) < 0)
			return fail_path(why, -errno, "cannot stat", w->path);
		if (st.st_mtim.tv_sec == w->mtime)
			continue;
		int r = set_mtime(full, w->mtime);
		if (r < 0)
			return fail_path(why, r, "cannot set the mtime of", w->path);
	}
	return 0;
}

int rd_plan_apply(const struct rd_plan *p, const char *live, char **why)
{
	int r = apply_deletions(p, live, why);
	if (r == 0)
		r = apply_contents(p, live, why);
	if (r == 0 && p->changes->len)
		r = apply_dir_mtimes(p, live, why);
	return r;
}
