// SPDX-License-Identifier: MIT
/*
 * Page contents for the tier benchmarks. Each page is a pure function of (kind, page), so
 * that any part can regenerate what a page must read back as. The realistic kinds are
 * tuned to compress as limits.md section 5 measured real data on these machines
 * (lz4 ratio: C headers 2.2, heap-like 1.85).
 */
#define _GNU_SOURCE
#include "tier.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* C headers from /usr/include, as limits.md measured text; generated text without them */
#define CORPUS_MAX (32UL << 20)
static char *corpus;
static size_t corpus_len;

static void corpus_add(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	while (corpus_len < CORPUS_MAX &&
	       (n = read(fd, corpus + corpus_len, CORPUS_MAX - corpus_len)) > 0)
		corpus_len += n;
	close(fd);
}

/* Depth first, names in alphabetical order: the same corpus on every machine alike. */
static void corpus_walk(const char *dir, int depth)
{
	struct dirent **v;
	int n = scandir(dir, &v, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char path[4096];
		const char *name = v[i]->d_name;
		size_t len = strlen(name);
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (name[0] != '.' && corpus_len < CORPUS_MAX && !lstat(path, &st)) {
			if (S_ISDIR(st.st_mode) && depth < 4)
				corpus_walk(path, depth + 1);
			else if (S_ISREG(st.st_mode) && len > 2 && !strcmp(name + len - 2, ".h"))
				corpus_add(path);
		}
		free(v[i]);
	}
	if (n >= 0)
		free(v);
}

const char *content_init(void)
{
	if (corpus)
		return corpus_len >= (1UL << 20) ? "C headers from /usr/include" : "generated";
	corpus = malloc(CORPUS_MAX);
	if (corpus)
		corpus_walk("/usr/include", 0);
	if (corpus_len < (1UL << 20))
		corpus_len = 0;
	return corpus_len ? "C headers from /usr/include" : "generated";
}

static const char *const words[] = {
	"the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with",
	"be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which",
	"but", "have", "an", "had", "they", "you", "were", "their", "one", "all", "we", "can",
	"her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so",
	"no", "memory", "page", "guest", "kernel", "fault", "thread", "region", "return",
	"struct", "static", "const", "int", "unsigned", "long", "void", "size_t", "uint64_t",
	"if (", "else", "while", "for (", "NULL", "->", "==", "!=", "{", "}", ";", "/*", "*/",
	"#define", "#include", "error", "value", "number", "between", "through", "system",
	"process", "function", "following", "because", "without", "another", "important",
	"information", "different", "available", "interface", "structure", "operation",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t next(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

const char *content_name(enum content c)
{
	static const char *const n[C_NR] = { "text", "heap", "mixed", "random", "zero" };

	return c < C_NR ? n[c] : "?";
}

static void text_page(uint64_t seed, char *p)
{
	size_t i = 0, col = 0;
	unsigned int indent = 0;

	while (i < PAGE) {
		uint64_t r = next(&seed);
		const char *w = words[(r >> 8) % NWORDS];
		size_t n = strlen(w);

		/* Zipf-like: the first words are far more frequent */
		if (r & 3)
			w = words[(r >> 40) % 16], n = strlen(w);
		if (col == 0)
			for (unsigned int k = 0; k < indent && i < PAGE; k++, col++)
				p[i++] = '\t';
		for (size_t k = 0; k < n && i < PAGE; k++, col++)
			p[i++] = w[k];
		if (i >= PAGE)
			break;
		if (col > 60 + (r >> 58)) {
			if (i < PAGE && (r >> 20) % 5 == 0)
				p[i++] = (r >> 30) % 2 ? '.' : ';';
			if (i < PAGE)
				p[i++] = '\n';
			col = 0;
			indent = (r >> 50) % 3;
		} else {
			p[i++] = (r >> 24) % 13 == 0 ? ',' : ' ';
			col++;
		}
	}
}

static void heap_page(uint64_t seed, uint64_t *w)
{
	/* objects of 2..8 words: a header, pointers into a few arenas, small ints, zeros */
	uint64_t arena = 0x00007f3a00000000ULL + ((seed >> 7) % 64) * (64ULL << 20);
	uint64_t heap = 0x000055d0c0000000ULL;

	for (size_t i = 0; i < PAGE / 8;) {
		uint64_t r = next(&seed);
		size_t len = 2 + r % 7;

		for (size_t k = 0; k < len && i < PAGE / 8; k++, i++) {
			uint64_t q = next(&seed), kind = q % 100;

			if (k == 0)
				w[i] = (len * 16) | 1; /* a malloc chunk header */
			else if (kind < 30)
				w[i] = arena + ((q >> 16) % (256ULL << 10) & ~7ULL);
			else if (kind < 45)
				w[i] = heap + ((q >> 16) % (1ULL << 20) & ~15ULL);
			else if (kind < 65)
				w[i] = (q >> 32) % 1000;
			else if (kind < 92)
				w[i] = 0;
			else
				w[i] = q;
		}
	}
}

void content_page(enum content c, uint64_t pg, void *page)
{
	uint64_t seed = mix(pg * 0x9e3779b97f4a7c15ULL + c + 1) | 1;

	if (c == C_MIXED) {
		/* a guest: mostly heap and text, some zero (freed, never used) and random */
		uint64_t k = mix(pg ^ 0x5bd1e995) % 100;

		c = k < 40 ? C_HEAP : k < 70 ? C_TEXT : k < 85 ? C_ZERO : C_RANDOM;
	}
	switch (c) {
	case C_TEXT:
		if (corpus_len) {
			/* 4 KiB of the corpus from a line start picked by the page */
			size_t off = mix(seed) % (corpus_len - PAGE);

			while (off > 0 && corpus[off - 1] != '\n')
				off--;
			memcpy(page, corpus + off, PAGE);
			return;
		}
		text_page(seed, page);
		return;
	case C_HEAP:
		heap_page(seed, page);
		return;
	case C_RANDOM:
		for (size_t i = 0; i < PAGE / 8; i++)
			((uint64_t *)page)[i] = next(&seed);
		return;
	default:
		memset(page, 0, PAGE);
		return;
	}
}

void content_fill(enum content c, uint64_t first, void *p, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE)
		content_page(c, first + off / PAGE, (char *)p + off);
}
