/* ifupdown.c - the grammar of ifupdown2 `interfaces` files.
 *
 * A file is a sequence of logical lines (a trailing backslash joins the next
 * physical line; a logical line keeps the number of its first physical
 * line).  A logical line whose first word is a stanza keyword (`auto`,
 * `allow-*`, `iface`, and the unsupported `source`, `source-directory`,
 * `mapping`) starts something new; any other non-comment line is an option of
 * the current `iface` stanza, as in ifupdown2 (indentation is only a
 * convention).  Only whole-line `#` comments exist.  Errors are precise:
 * file:line: reason, and a file with an error yields nothing. */
#include "ifupdown.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

/* Larger files are surely a mistake; the limit keeps parsing bounded. */
#define IFD_MAX_FILE (1u << 20)
#define IFD_NAME_MAX 15 /* IFNAMSIZ - 1 */

int net_error_set(struct net_error *err, const char *file, unsigned line, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
		err->line = line;
		va_start(ap, fmt);
		vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void stanza_clear(struct ifd_stanza *s)
{
	for (size_t i = 0; i < s->n_options; i++) {
		free(s->options[i].key);
		free(s->options[i].value);
	}
	free(s->options);
	free(s->name);
	free(s->family);
	free(s->method);
}

void ifupdown_free(struct ifd_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_stanzas; i++)
		stanza_clear(&f->stanzas[i]);
	free(f->stanzas);
	for (size_t i = 0; i < f->n_autos; i++)
		free(f->autos[i]);
	free(f->autos);
	free(f->auto_lines);
	free(f->path);
	free(f);
}

static void ifupdown_freep(struct ifd_file **f) { ifupdown_free(*f); }

/* Split s in place into at most max whitespace-separated words. */
static size_t split_words(char *s, char **words, size_t max)
{
	size_t n = 0;
	while (*s) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		if (n == max)
			return max + 1;
		words[n++] = s;
		while (*s && !isspace((unsigned char)*s))
			s++;
		if (*s)
			*s++ = '\0';
	}
	return n;
}

static bool keys_equal(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char ca = *a == '_' ? '-' : *a, cb = *b == '_' ? '-' : *b;
		if (ca != cb)
			return false;
	}
	return *a == *b;
}

const struct ifd_option *ifupdown_option(const struct ifd_stanza *s, const char *key)
{
	for (size_t i = 0; i < s->n_options; i++)
		if (keys_equal(s->options[i].key, key))
			return &s->options[i];
	return NULL;
}

bool ifupdown_is_auto(const struct ifd_file *f, const char *name)
{
	for (size_t i = 0; i < f->n_autos; i++)
		if (strcmp(f->autos[i], name) == 0)
			return true;
	return false;
}

/* Interface names as the kernel accepts them, minus characters that only
 * cause trouble in files (':' is ifupdown's alias syntax, not supported). */
static const char *check_ifname(const char *name)
{
	size_t len = strlen(name);
	if (len == 0)
		return "empty interface name";
	if (len > IFD_NAME_MAX)
		return "interface name longer than 15 characters";
	if (strchr(name, ':'))
		return "alias interfaces (NAME:N) are not supported; put all addresses on NAME";
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			return "interface name may only contain letters, digits, '.', '-' and '_'";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "invalid interface name";
	return NULL;
}

struct parser {
	struct ifd_file *f;
	const char *path;
	struct net_error *err;
	struct ifd_stanza *cur; /* the stanza options go to, or NULL */
};

static int add_auto(struct parser *p, const char *name, unsigned line)
{
	struct ifd_file *f = p->f;
	const char *why = check_ifname(name);
	if (why)
		return net_error_set(p->err, p->path, line, "%s: '%s'", why, name);
	if (ifupdown_is_auto(f, name))
		return 0;
	char **a = realloc(f->autos, (f->n_autos + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	f->autos = a;
	unsigned *l = realloc(f->auto_lines, (f->n_autos + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	f->auto_lines = l;
	if (!(f->autos[f->n_autos] = strdup(name)))
		return -ENOMEM;
	f->auto_lines[f->n_autos++] = line;
	return 0;
}

static int parse_iface(struct parser *p, char **w, size_t n, unsigned line)
{
	static const char *const methods[] = { "static", "manual", "dhcp", "loopback", "auto" };
	struct ifd_file *f = p->f;
	if (n < 2)
		return net_error_set(p->err, p->path, line, "'iface' needs an interface name");
	if (n > 4)
		return net_error_set(p->err, p->path, line,
				     "too many words: expected 'iface NAME [inet|inet6] [METHOD]'");
	const char *why = check_ifname(w[1]);
	if (why)
		return net_error_set(p->err, p->path, line, "%s: '%s'", why, w[1]);
	const char *family = n > 2 ? w[2] : "inet", *method = n > 3 ? w[3] : "manual";
	if (strcmp(family, "inet") != 0 && strcmp(family, "inet6") != 0)
		return net_error_set(p->err, p->path, line,
				     "unknown address family '%s' (expected inet or inet6)", family);
	bool known = false;
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		known |= strcmp(method, methods[i]) == 0;
	if (!known)
		return net_error_set(p->err, p->path, line,
				     "unknown method '%s' (expected static, manual, dhcp, loopback or auto)",
				     method);
	for (size_t i = 0; i < f->n_stanzas; i++)
		if (strcmp(f->stanzas[i].name, w[1]) == 0 && strcmp(f->stanzas[i].family, family) == 0)
			return net_error_set(p->err, p->path, line, "duplicate 'iface %s %s' (first at line %u)",
					     w[1], family, f->stanzas[i].line);

	struct ifd_stanza *s = realloc(f->stanzas, (f->n_stanzas + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	f->stanzas = s;
	s = &f->stanzas[f->n_stanzas++];
	*s = (struct ifd_stanza){ .line = line };
	s->name = strdup(w[1]);
	s->family = strdup(family);
	s->method = strdup(method);
	if (!s->name || !s->family || !s->method)
		return -ENOMEM;
	p->cur = s;
	return 0;
}

static int parse_option(struct parser *p, char *text, unsigned line)
{
	char *key = text;
	size_t klen = strcspn(key, " \t");
	char *value = key + klen;
	if (*value)
		*value++ = '\0';
	while (isspace((unsigned char)*value))
		value++;
	size_t vlen = strlen(value);
	while (vlen && isspace((unsigned char)value[vlen - 1]))
		value[--vlen] = '\0';

	for (const char *c = key; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '-' && *c != '_')
			return net_error_set(p->err, p->path, line, "invalid option name '%s'", key);
	if (!p->cur)
		return net_error_set(p->err, p->path, line,
				     "option '%s' outside of an 'iface' stanza", key);

	struct ifd_stanza *s = p->cur;
	struct ifd_option *o = realloc(s->options, (s->n_options + 1) * sizeof(*o));
	if (!o)
		return -ENOMEM;
	s->options = o;
	o = &s->options[s->n_options++];
	*o = (struct ifd_option){ .line = line };
	o->key = strdup(key);
	o->value = strdup(value);
	return o->key && o->value ? 0 : -ENOMEM;
}

static bool is_confirmation_comment(const char *comment)
{
	const char *c = comment + 1; /* after '#' */
	while (isspace((unsigned char)*c))
		c++;
	size_t n = strlen(IFD_ALLOW_CLUSTER_LINK_CHANGE);
	if (strncmp(c, IFD_ALLOW_CLUSTER_LINK_CHANGE, n) != 0)
		return false;
	for (c += n; *c; c++)
		if (!isspace((unsigned char)*c))
			return false;
	return true;
}

/* One logical line, already joined and NUL-terminated; modifies it. */
static int parse_line(struct parser *p, char *text, unsigned line)
{
	while (isspace((unsigned char)*text))
		text++;
	if (!*text)
		return 0;
	if (*text == '#') {
		if (is_confirmation_comment(text))
			p->f->allow_cluster_link_change = true;
		return 0;
	}
	_cleanup_free_ char *copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	char *w[6];
	size_t n = split_words(copy, w, 5);
	if (strcmp(w[0], "iface") == 0)
		return parse_iface(p, w, n > 5 ? 5 : n, line);
	if (strcmp(w[0], "auto") == 0 || strncmp(w[0], "allow-", 6) == 0) {
		p->cur = NULL;
		char *names = text + strlen(w[0]);
		char *nw[64];
		size_t nn = split_words(names, nw, 63);
		if (nn == 0)
			return net_error_set(p->err, p->path, line, "'%s' needs interface names", w[0]);
		if (nn > 63)
			return net_error_set(p->err, p->path, line, "too many names on one '%s' line", w[0]);
		for (size_t i = 0; i < nn; i++) {
			int r = add_auto(p, nw[i], line);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (strcmp(w[0], "source") == 0 || strcmp(w[0], "source-directory") == 0 ||
	    strcmp(w[0], "mapping") == 0)
		return net_error_set(p->err, p->path, line,
				     "'%s' is not supported: the interfaces file must be self-contained", w[0]);
	return parse_option(p, text, line);
}

int ifupdown_parse(const char *path, const char *text, size_t len, struct ifd_file **out,
		   struct net_error *err)
{
	_cleanup_(ifupdown_freep) struct ifd_file *f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path)))
		return -ENOMEM;
	if (len > IFD_MAX_FILE)
		return net_error_set(err, path, 0, "file is larger than %u bytes", IFD_MAX_FILE);
	if (memchr(text, '\0', len))
		return net_error_set(err, path, 0, "file contains a NUL byte");

	struct parser p = { .f = f, .path = path, .err = err };
	_cleanup_free_ char *logical = malloc(len + 1);
	if (!logical)
		return -ENOMEM;
	size_t pos = 0, ll = 0;
	unsigned lineno = 0, first = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t n = end - pos;
		lineno++;
		if (ll == 0)
			first = lineno;
		if (n && text[pos + n - 1] == '\r')
			n--;
		bool cont = n && text[pos + n - 1] == '\\';
		memcpy(logical + ll, text + pos, cont ? n - 1 : n);
		ll += cont ? n - 1 : n;
		pos = nl ? end + 1 : len;
		if (cont && pos < len) {
			logical[ll++] = ' ';
			continue;
		}
		logical[ll] = '\0';
		int r = parse_line(&p, logical, first);
		if (r < 0)
			return r;
		ll = 0;
	}
	*out = TAKE_PTR(f);
	return 0;
}

int ifupdown_parse_file(const char *path, struct ifd_file **out, struct net_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		net_error_set(err, path, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > IFD_MAX_FILE)
		return net_error_set(err, path, 0, "file is larger than %u bytes", IFD_MAX_FILE);
	_cleanup_free_ char *buf = malloc(st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, st.st_size + 1 - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			net_error_set(err, path, 0, "cannot read: %s", strerror(e));
			return -e;
		}
		if (r == 0)
			break;
		got += r;
		if (got > (size_t)st.st_size)
			return net_error_set(err, path, 0, "file changed while being read");
	}
	return ifupdown_parse(path, buf, got, out, err);
}
