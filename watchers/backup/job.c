/* job.c - see job.h.
 *
 * jobs.cfg goes through the shared section config parser with the jobs.cfg
 * schema (vzdump and pvecfs-tree sections).  The whole file is refused on
 * the first error, so a typo never makes a half-understood job run. */
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "parse_error.h"
#include "propstr.h"
#include "schemas.h"
#include "sectioncfg.h"

static void ignore_warning(void *userdata, const struct parse_error *w)
{
	(void)userdata;
	(void)w;
}

static int split_vmids(const char *key, const char *text, unsigned **out, size_t *n, struct parse_error *err)
{
	struct propstr_list list;
	int r = propstr_split_list(&list, key, text, ',', err);
	if (r < 0)
		return r;
	*out = calloc(list.count + 1, sizeof(**out));
	if (!*out) {
		propstr_list_free(&list);
		return -ENOMEM;
	}
	for (size_t i = 0; i < list.count; i++)
		(*out)[i] = (unsigned)strtoul(list.items[i], NULL, 10);
	*n = list.count;
	propstr_list_free(&list);
	return 0;
}

static int split_nodes(const char *text, char ***out, size_t *n, struct parse_error *err)
{
	struct propstr_list list;
	int r = propstr_split_list(&list, "node", text, ',', err);
	if (r < 0)
		return r;
	*out = calloc(list.count + 1, sizeof(char *));
	for (size_t i = 0; *out && i < list.count; i++) {
		char *colon = strchr(list.items[i], ':');
		if (colon)
			*colon = '\0';
		(*out)[i] = strdup(list.items[i]);
	}
	*n = list.count;
	propstr_list_free(&list);
	return *out ? 0 : -ENOMEM;
}

unsigned job_stagger_ms(const char *jobid, const char *node, unsigned max_s)
{
	if (!max_s)
		return 0;
	uint32_t h = 2166136261u;
	const char *parts[] = { jobid, "\n", node };
	for (size_t i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
	return (unsigned)(h % ((uint64_t)max_s * 1000 + 1));
}

static bool is_true(const char *v) { return v && strcmp(v, "0") != 0; }

static int fill_job(const struct sectioncfg_section *s, struct job *j, struct parse_error *err)
{
	const char *v;
	j->kind = strcmp(s->type, "vzdump") == 0 ? JOB_VZDUMP : JOB_TREE;
	j->id = strdup(s->id);
	j->schedule_text = strdup(sectioncfg_get(s, "schedule"));
	j->enabled = !(v = sectioncfg_get(s, "enabled")) || is_true(v);
	j->storage = strdup((v = sectioncfg_get(s, "storage")) ? v : "local");
	j->all = is_true(sectioncfg_get(s, "all"));
	j->mode = strdup((v = sectioncfg_get(s, "mode")) ? v : "snapshot");
	j->notes_template = (v = sectioncfg_get(s, "notes-template")) ? strdup(v) : NULL;
	if (!j->id || !j->schedule_text || !j->storage || !j->mode)
		return -ENOMEM;
	char cal_err[256];
	const struct sectioncfg_entry *e = sectioncfg_find_key(s, "schedule");
	parse_error_at(err, NULL, e->line);
	if (calendar_parse(j->schedule_text, &j->schedule, cal_err, sizeof(cal_err)) < 0)
		return parse_error_fail(err, "schedule", "%s", cal_err);
	int r = 0;
	if ((e = sectioncfg_find_key(s, "vmid")))
		r = split_vmids("vmid", e->value, &j->vmids, &j->n_vmids, err);
	if (r == 0 && (e = sectioncfg_find_key(s, "exclude")))
		r = split_vmids("exclude", e->value, &j->exclude, &j->n_exclude, err);
	if (r == 0 && (e = sectioncfg_find_key(s, "node")))
		r = split_nodes(e->value, &j->nodes, &j->n_nodes, err);
	if (r < 0)
		return r;
	j->compress = BK_COMPRESS_ZSTD;
	if ((e = sectioncfg_find_key(s, "compress"))) {
		parse_error_at(err, NULL, e->line);
		if (bk_compress_parse(e->value, &j->compress) < 0)
			return parse_error_fail(err, "compress", "'%s' is not supported here (zstd, gzip or 0)",
						e->value);
	}
	if ((e = sectioncfg_find_key(s, "prune-backups"))) {
		char perr[256];
		parse_error_at(err, NULL, e->line);
		if (prune_spec_parse(e->value, &j->prune, perr, sizeof(perr)) < 0)
			return parse_error_fail(err, "prune-backups", "%s", perr);
		j->has_prune = true;
	}
	if ((v = sectioncfg_get(s, "bwlimit")))
		j->bwlimit_kib = strtoull(v, NULL, 10);
	j->stagger_s = (v = sectioncfg_get(s, "stagger")) ? (int)strtoul(v, NULL, 10) : -1;
	return 0;
}

int job_list_parse(const char *text, size_t len, const char *file, struct job_list *out, char *err, size_t errlen)
{
	*out = (struct job_list){ 0 };
	_cleanup_(sectioncfg_freep) struct sectioncfg *cfg = NULL;
	struct parse_error pe;
	parse_error_clear(&pe);
	int r = sectioncfg_parse(text, len, file, &schema_jobs_cfg, ignore_warning, NULL, &cfg, &pe);
	struct job_list list = { 0 };
	for (size_t i = 0; r == 0 && i < cfg->count; i++) {
		const struct sectioncfg_section *s = &cfg->sections[i];
		if (strcmp(s->type, "pvecfs-tree") != 0 && strcmp(s->type, "vzdump") != 0)
			continue;
		struct job *n = realloc(list.jobs, (list.n + 1) * sizeof(*n));
		if (!n) {
			r = -ENOMEM;
			break;
		}
		list.jobs = n;
		list.jobs[list.n] = (struct job){ 0 };
		r = fill_job(s, &list.jobs[list.n++], &pe);
	}
	if (r < 0) {
		if (!pe.file[0])
			parse_error_at(&pe, file, pe.line);
		parse_error_format(&pe, err, errlen);
		if (r == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", file);
		job_list_clear(&list);
		return r == -ENOMEM ? r : -EINVAL;
	}
	*out = list;
	return 0;
}

void job_list_clear(struct job_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		struct job *j = &list->jobs[i];
		free(j->id);
		free(j->schedule_text);
		free(j->storage);
		free(j->vmids);
		free(j->exclude);
		for (size_t k = 0; k < j->n_nodes; k++)
			free(j->nodes[k]);
		free(j->nodes);
		free(j->mode);
		free(j->notes_template);
	}
	free(list->jobs);
	*list = (struct job_list){ 0 };
}

const struct job *job_find(const struct job_list *list, const char *id)
{
	for (size_t i = 0; i < list->n; i++)
		if (strcmp(list->jobs[i].id, id) == 0)
			return &list->jobs[i];
	return NULL;
}

bool job_runs_on(const struct job *job, const char *node)
{
	if (!job->nodes)
		return true;
	for (size_t i = 0; i < job->n_nodes; i++)
		if (strcmp(job->nodes[i], node) == 0)
			return true;
	return false;
}

static bool in_list(const unsigned *l, size_t n, unsigned v)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] == v)
			return true;
	return false;
}

bool job_selects(const struct job *job, unsigned vmid)
{
	if (job->all)
		return !in_list(job->exclude, job->n_exclude, vmid);
	return in_list(job->vmids, job->n_vmids, vmid);
}

time_t job_next_slot(const struct job *job, time_t t)
{
	time_t next;
	return calendar_next(&job->schedule, t, &next) < 0 ? 0 : next;
}

time_t job_due_slot(const struct job *job, time_t after, time_t now)
{
	time_t floor = now - 366 * 24 * 3600;
	time_t t = after > floor ? after : floor, slot = 0, next;
	/* Every-minute schedules over a year: about half a million steps,
	 * each cheap; only at start after a long outage. */
	while (calendar_next(&job->schedule, t, &next) == 0 && next <= now) {
		slot = next;
		t = next;
	}
	return slot;
}

/* ---- state ---- */

int job_state_load(const char *path, struct job_state *st)
{
	*st = (struct job_state){ 0 };
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char id[256];
		long long last;
		if (sscanf(line, "%255s %lld", id, &last) == 2 && last > 0) {
			int r = job_state_set(st, id, (time_t)last);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int job_state_save(const char *path, const struct job_state *st)
{
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -errno;
	for (size_t i = 0; i < st->n; i++)
		fprintf(f, "%s %lld\n", st->e[i].id, (long long)st->e[i].last);
	int r = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

time_t job_state_get(const struct job_state *st, const char *id)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->e[i].id, id) == 0)
			return st->e[i].last;
	return 0;
}

int job_state_set(struct job_state *st, const char *id, time_t last)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->e[i].id, id) == 0) {
			st->e[i].last = last;
			return 0;
		}
	struct job_state_entry *n = realloc(st->e, (st->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	st->e = n;
	if (!(st->e[st->n].id = strdup(id)))
		return -ENOMEM;
	st->e[st->n++].last = last;
	return 0;
}

void job_state_clear(struct job_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->e[i].id);
	free(st->e);
	*st = (struct job_state){ 0 };
}
