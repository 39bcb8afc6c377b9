// SPDX-License-Identifier: MIT
/*
 * rwp-demo-plot: the JSON of rwp-vm or rwp-demo-threads as two pictures, with gnuplot.
 *   heatmap.png  address x time: the share of each address range accessed per interval
 *   wss.png      WSS(1), WSS(4), resident and evicted memory and the compressed tier
 * usage: rwp-demo-plot RUN.json OUTDIR
 * The data files and plot.gp stay in OUTDIR, to re-plot by hand.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024.0 * 1024.0)

struct run {
	struct json_object *root, *iv, *rows, *phases;
	const char *tool;
	size_t n, buckets;
	uint64_t pages, page_size;
	double beat, mem_mib, data_mib;
};

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rwp-demo-plot: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		die("the JSON has no \"%s\": not written by rwp-vm?", key);
	return v;
}

static double num(struct json_object *o, const char *key)
{
	return json_object_get_double(get(o, key));
}

static struct json_object *at(struct json_object *a, size_t i)
{
	return json_object_array_get_idx(a, i);
}

static void load(struct run *r, const char *path)
{
	struct json_object *cfg, *hm;

	r->root = json_object_from_file(path);
	if (!r->root)
		die("%s: %s", path, json_util_get_last_err());
	cfg = get(r->root, "config");
	hm = get(r->root, "heatmap");
	r->tool = json_object_get_string(get(r->root, "tool"));
	r->iv = get(r->root, "intervals");
	r->rows = get(hm, "rows");
	r->phases = get(r->root, "phases");
	r->n = json_object_array_length(r->iv);
	r->buckets = num(hm, "buckets");
	r->pages = num(hm, "pages");
	r->page_size = num(cfg, "page_size");
	r->beat = num(cfg, "interval_ms") / 1000;
	r->mem_mib = num(cfg, "mem_bytes") / MIB;
	r->data_mib = r->pages * (double)r->page_size / MIB;
	if (r->n < 2 || json_object_array_length(r->rows) != r->n || !r->buckets)
		die("%s: %zu intervals: too few to plot", path, r->n);
}

static FILE *create(const char *name)
{
	FILE *f = fopen(name, "w");

	if (!f)
		die("create %s: %s", name, strerror(errno));
	return f;
}

static void close_file(FILE *f, const char *name)
{
	if (ferror(f) | fclose(f))
		die("write %s: failed", name);
}

/* First page of address bucket b, as the sampler split the pages. */
static uint64_t bucket_first(const struct run *r, size_t b)
{
	return (b * r->pages + r->buckets - 1) / r->buckets;
}

/*
 * pm3d rows: row k sits where interval k began (the previous tick; an overrun pass makes
 * an interval longer) and carries its values; a last row at the end of the run closes the
 * final cells (its values are not drawn, see corners2color).
 */
static void heatmap_data(const struct run *r)
{
	FILE *f = create("heatmap.dat");

	for (size_t k = 0; k <= r->n; k++) {
		struct json_object *row = at(r->rows, k < r->n ? k : r->n - 1);
		double t = k ? num(at(r->iv, k - 1), "t") : 0;

		for (size_t b = 0; b <= r->buckets; b++) {
			size_t bb = b < r->buckets ? b : b - 1;
			uint64_t first = bucket_first(r, bb), end = bucket_first(r, bb + 1);
			double hot = json_object_get_double(at(row, bb));

			fprintf(f, "%.3f %.3f %.4f\n", t,
				bucket_first(r, b) * (double)r->page_size / MIB,
				end > first ? hot / (end - first) : 0);
		}
		fputc('\n', f);
	}
	close_file(f, "heatmap.dat");
}

static void wss_data(const struct run *r)
{
	FILE *f = create("wss.dat");

	fprintf(f, "# t wss1_mib wss4_mib resident_mib evicted_mib tier0_used_mib phase\n");
	for (size_t i = 0; i < r->n; i++) {
		struct json_object *s = at(r->iv, i), *tiers = get(s, "tier_used_bytes");
		double tier = json_object_array_length(tiers) ? json_object_get_double(at(tiers, 0))
							      : 0;

		fprintf(f, "%.3f %.2f %.2f %.2f %.2f %.2f %d\n", num(s, "t"),
			num(s, "wss1") * r->page_size / MIB, num(s, "wss4") * r->page_size / MIB,
			num(s, "resident_bytes") / MIB, num(s, "evicted_pages") * 4096 / MIB,
			tier / MIB, (int)num(s, "phase"));
	}
	close_file(f, "wss.dat");
}

/* Dashed lines where the phases begin, their names above the plot. */
static void phase_marks(FILE *f, const struct run *r)
{
	double end = num(at(r->iv, r->n - 1), "t");

	fprintf(f, "unset arrow; unset label\n");
	for (size_t p = 0; p < json_object_array_length(r->phases); p++) {
		struct json_object *ph = at(r->phases, p);
		double s = num(ph, "start_s"), e = num(ph, "end_s");

		if (s >= end || (e >= 0 && e <= s))
			continue;
		if (p)
			fprintf(f, "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 2 "
				   "lc rgb '#303030' front\n", s, s);
		fprintf(f, "set label \"%s\" at %.3f, graph 1.03 left font ',10'\n",
			json_object_get_string(get(ph, "name")), s + 0.3 * r->beat);
	}
}

static void script(const struct run *r)
{
	FILE *f = create("plot.gp");
	double end = num(at(r->iv, r->n - 1), "t");

	fprintf(f, "# written by rwp-demo-plot: gnuplot plot.gp\n"
		   "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		   "  set terminal pngcairo size 1280,720 font 'sans,11'\n"
		   "} else {\n"
		   "  set terminal png size 1280,720 font 'sans,11'\n"
		   "}\n"
		   "set lmargin at screen 0.07; set rmargin at screen 0.86\n"
		   "set tmargin at screen 0.87; set bmargin at screen 0.16\n"
		   "set xrange [0:%.3f]; set xlabel 'time (s)'\n", end);
	phase_marks(f, r);

	fprintf(f, "set output 'heatmap.png'\n"
		   "set title \"%s: guest memory accessed per %.0f ms interval "
		   "(%.0f MiB of data pages in %zu ranges)\" offset 0,1.5\n"
		   "set ylabel 'guest data address (MiB from the first data page)'\n"
		   "set yrange [0:%.3f]\n"
		   "set cblabel 'share of the range accessed'; set cbrange [0:1]\n"
		   "set colorbox user origin screen 0.89, screen 0.16 size screen 0.025, "
		   "screen 0.71\n"
		   "set palette defined (0 '#ffffff', 0.02 '#fff2b2', 0.25 '#f6a04d', "
		   "0.6 '#c2373a', 1 '#3b0a45')\n"
		   "set view map; set pm3d map corners2color c1\n"
		   "unset key\n"
		   "splot 'heatmap.dat' using 1:2:3 with pm3d\n",
		r->tool, r->beat * 1000, r->data_mib, r->buckets, r->data_mib);

	fprintf(f, "set output 'wss.png'\n"
		   "unset pm3d; unset colorbox; set rmargin at screen 0.97\n"
		   "set title \"%s: working set, and where the guest's %.0f MiB are\" "
		   "offset 0,1.5\n"
		   "set ylabel 'MiB'; set yrange [0:%.3f]\n"
		   "set key at screen 0.5, screen 0.02 center bottom horizontal maxcols 5 samplen 2\n"
		   "set grid ytics lc rgb '#dddddd'\n"
		   "plot 'wss.dat' using 1:4 with filledcurves x1 lc rgb '#cfe3f3' "
		   "title 'resident',"
		   " '' using 1:5 with lines lw 2 lc rgb '#7f7f7f' title 'evicted',"
		   " '' using 1:6 with lines lw 2 dt 3 lc rgb '#2ca02c' "
		   "title 'compressed tier RAM',"
		   " '' using 1:3 with lines lw 2 lc rgb '#ff7f0e' title 'WSS(4)',"
		   " '' using 1:2 with lines lw 3 lc rgb '#d62728' title 'WSS(1)'\n",
		r->tool, r->mem_mib, r->data_mib * 1.05);
	close_file(f, "plot.gp");
}

static void gnuplot(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		execlp("gnuplot", "gnuplot", "plot.gp", (char *)NULL);
		fprintf(stderr, "rwp-demo-plot: gnuplot: %s (package gnuplot-nox)\n",
			strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		die("gnuplot failed");
}

int main(int argc, char **argv)
{
	struct run r = { 0 };
	char *json;

	if (argc != 3) {
		fprintf(stderr, "usage: rwp-demo-plot RUN.json OUTDIR\n");
		return 2;
	}
	json = realpath(argv[1], NULL);
	if (!json)
		die("%s: %s", argv[1], strerror(errno));
	load(&r, json);
	if (chdir(argv[2]))
		die("%s: %s", argv[2], strerror(errno));
	heatmap_data(&r);
	wss_data(&r);
	script(&r);
	gnuplot();
	printf("rwp-demo-plot: wrote %s/heatmap.png and %s/wss.png\n", argv[2], argv[2]);
	json_object_put(r.root);
	free(json);
	return 0;
}
