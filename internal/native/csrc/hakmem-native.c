/*
 * hakmem-native: the native C yardstick of hakmem for Go.
 *
 * It runs the allocation scenarios of the shared op-sequence spec
 * (spec-scenarios.md) with plain malloc/free, so that the C allocator under
 * test is whichever one the dynamic linker binds `malloc` to: glibc by
 * default, or mimalloc, jemalloc or tcmalloc given with LD_PRELOAD.
 *
 *   hakmem-native <scenario> [key=value ...]
 *       runs the scenario and prints one JSON line of results.
 *   hakmem-native checksum <scenario> [key=value ...]
 *       prints the FNV-1a 64 checksum of the first 10,000 operations of the
 *       scenario's draw sequence (decimal uint64), computed from the PRNG
 *       alone; nothing is allocated.
 *
 * Scenarios: json, mir, vm, mixed, larson, random-mixed (and the aliases
 * random-mixed-400, random-mixed-8192 that set slots).
 * Keys: seconds, min, max, chunks, rounds, seed, threads, slots, steps. Every
 * key is accepted by every scenario; a scenario ignores the keys it has no
 * use for, so a caller may pass one parameter set to all of them.
 *
 * Each JSON line names the object that defines `malloc` in this process
 * ("malloc_lib", found with dlsym + dladdr) and the allocator it belongs to
 * ("allocator"), so that a caller can verify that the allocator it meant to
 * measure is the one that ran.
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -fno-builtin-malloc -fno-builtin-free
 *        -pthread -o hakmem-native hakmem-native.c -ldl
 * (-fno-builtin-* keeps the compiler from pairing and removing malloc/free.)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* PRNG and checksum (spec: "PRNG" and "Checksum")                     */

/* splitmix64; one generator per worker, state = seed + worker index. */
static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t z;
	*state += 0x9e3779b97f4a7c15ULL;
	z = *state;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* rand(n) = next() % n; the modulo bias is accepted (Go does the same). */
static inline uint64_t rng_below(uint64_t *state, uint64_t n)
{
	return rng_next(state) % n;
}

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL
/* The checksum covers the first CHECKSUM_OPS operations drawn by worker 0. */
#define CHECKSUM_OPS 10000

/* Feeds the 16 bytes little-endian of (slot, size) to an FNV-1a 64 hash. */
static inline uint64_t fnv_op(uint64_t h, uint64_t slot, uint64_t size)
{
	int i;
	for (i = 0; i < 8; i++) {
		h ^= (slot >> (8 * i)) & 0xff;
		h *= FNV_PRIME;
	}
	for (i = 0; i < 8; i++) {
		h ^= (size >> (8 * i)) & 0xff;
		h *= FNV_PRIME;
	}
	return h;
}

/* ------------------------------------------------------------------ */
/* Parameters                                                          */

struct params {
	double seconds;    /* larson: run time; default 1 */
	uint64_t min;      /* larson: smallest size; default 8 */
	uint64_t max;      /* larson: largest size; default 1000 */
	uint64_t chunks;   /* larson: slots per worker; default 5000 */
	uint64_t rounds;   /* larson: rounds before a successor takes over; default 100 */
	uint64_t seed;     /* larson, random-mixed; default 4141 */
	uint64_t threads;  /* larson: workers; default: online CPUs */
	uint64_t slots;    /* random-mixed: working set N; default 400 */
	uint64_t steps;    /* random-mixed: steps S; default 1,000,000 */
};

static void usage(void)
{
	fprintf(stderr,
		"usage: hakmem-native <scenario> [key=value ...]\n"
		"       hakmem-native checksum <scenario> [key=value ...]\n"
		"scenarios: json mir vm mixed larson random-mixed "
		"(random-mixed-400, random-mixed-8192)\n"
		"keys: seconds min max chunks rounds seed threads slots steps\n");
}

static int parse_u64(const char *key, const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	if (*s == '\0' || *s == '-') {
		fprintf(stderr, "hakmem-native: %s=%s: not a non-negative integer\n", key, s);
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		fprintf(stderr, "hakmem-native: %s=%s: not a non-negative integer\n", key, s);
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

static int parse_params(int argc, char **argv, struct params *p)
{
	int i;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	p->seconds = 1.0;
	p->min = 8;
	p->max = 1000;
	p->chunks = 5000;
	p->rounds = 100;
	p->seed = 4141;
	p->threads = ncpu > 0 ? (uint64_t)ncpu : 1;
	p->slots = 400;
	p->steps = 1000000;

	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		const char *val;
		size_t klen;
		if (eq == NULL) {
			fprintf(stderr, "hakmem-native: %s: want key=value\n", argv[i]);
			return -1;
		}
		klen = (size_t)(eq - argv[i]);
		val = eq + 1;
#define KEY(name) (klen == strlen(name) && strncmp(argv[i], name, klen) == 0)
		if (KEY("seconds")) {
			char *end;
			errno = 0;
			p->seconds = strtod(val, &end);
			if (errno != 0 || *end != '\0' || *val == '\0' || !(p->seconds >= 0)) {
				fprintf(stderr, "hakmem-native: seconds=%s: not a non-negative number\n", val);
				return -1;
			}
		} else if (KEY("min")) {
			if (parse_u64("min", val, &p->min)) return -1;
		} else if (KEY("max")) {
			if (parse_u64("max", val, &p->max)) return -1;
		} else if (KEY("chunks")) {
			if (parse_u64("chunks", val, &p->chunks)) return -1;
		} else if (KEY("rounds")) {
			if (parse_u64("rounds", val, &p->rounds)) return -1;
		} else if (KEY("seed")) {
			if (parse_u64("seed", val, &p->seed)) return -1;
		} else if (KEY("threads")) {
			if (parse_u64("threads", val, &p->threads)) return -1;
		} else if (KEY("slots")) {
			if (parse_u64("slots", val, &p->slots)) return -1;
		} else if (KEY("steps")) {
			if (parse_u64("steps", val, &p->steps)) return -1;
		} else {
			fprintf(stderr, "hakmem-native: unknown key %.*s\n", (int)klen, argv[i]);
			return -1;
		}
#undef KEY
	}
	if (p->min < 1 || p->max < p->min) {
		fprintf(stderr, "hakmem-native: want 1 <= min <= max\n");
		return -1;
	}
	if (p->chunks < 1 || p->rounds < 1 || p->threads < 1 || p->threads > 1024 ||
	    p->slots < 1) {
		fprintf(stderr, "hakmem-native: want chunks, rounds, slots >= 1 and 1 <= threads <= 1024\n");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Measurement helpers                                                 */

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * A bounded set of latency samples (ns per op). When it is full, every other
 * sample is dropped and from then on only every stride-th offered sample is
 * kept, so long runs keep an even spread over the whole run in fixed memory.
 */
#define SAMPLE_CAP 16384 /* 128 KiB per worker: percentiles of 16k points are stable */

struct samples {
	double *v;       /* SAMPLE_CAP entries */
	size_t n;        /* entries used */
	uint64_t stride; /* keep one offered sample in stride */
	uint64_t seen;   /* samples offered */
};

static int samples_init(struct samples *s)
{
	s->v = malloc(SAMPLE_CAP * sizeof(double));
	s->n = 0;
	s->stride = 1;
	s->seen = 0;
	return s->v == NULL ? -1 : 0;
}

static void samples_add(struct samples *s, double x)
{
	if (s->seen++ % s->stride != 0)
		return;
	if (s->n == SAMPLE_CAP) {
		size_t i;
		for (i = 0; i < SAMPLE_CAP / 2; i++)
			s->v[i] = s->v[2 * i];
		s->n = SAMPLE_CAP / 2;
		s->stride *= 2;
	}
	s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n-1]; p in (0, 1]. */
static double percentile(const double *v, size_t n, double p)
{
	size_t rank;
	if (n == 0)
		return 0;
	rank = (size_t)(p * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

struct result {
	const char *scenario;
	uint64_t ops;
	double seconds;
	double ns_median, ns_p95, ns_p99;
	uint64_t minor_faults, major_faults, peak_rss;
	uint64_t checksum;
	uint64_t threads;
	uint64_t successors; /* larson: successor threads started */
};

static void summarize(struct result *r, double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_double);
	r->ns_median = percentile(v, n, 0.50);
	r->ns_p95 = percentile(v, n, 0.95);
	r->ns_p99 = percentile(v, n, 0.99);
}

struct usage_mark {
	uint64_t minflt, majflt;
};

static struct usage_mark usage_now(void)
{
	struct rusage ru;
	struct usage_mark m = {0, 0};
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		m.minflt = (uint64_t)ru.ru_minflt;
		m.majflt = (uint64_t)ru.ru_majflt;
	}
	return m;
}

static void usage_finish(struct result *r, struct usage_mark before)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		r->minor_faults = (uint64_t)ru.ru_minflt - before.minflt;
		r->major_faults = (uint64_t)ru.ru_majflt - before.majflt;
		r->peak_rss = (uint64_t)ru.ru_maxrss * 1024; /* ru_maxrss is in KiB */
	}
}

static void die_oom(size_t size)
{
	fprintf(stderr, "hakmem-native: malloc(%zu) failed\n", size);
	exit(1);
}

/* ------------------------------------------------------------------ */
/* Which allocator is this?                                            */

struct allocator_id {
	const char *name; /* glibc, mimalloc, jemalloc, tcmalloc or unknown */
	char lib[512];    /* path of the object that defines malloc */
};

static void identify_allocator(struct allocator_id *id)
{
	Dl_info info;
	void *sym = dlsym(RTLD_DEFAULT, "malloc");
	const char *base;

	id->name = "unknown";
	snprintf(id->lib, sizeof id->lib, "%s", "?");
	if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL)
		return;
	snprintf(id->lib, sizeof id->lib, "%s", info.dli_fname);
	base = strrchr(id->lib, '/');
	base = base ? base + 1 : id->lib;
	if (strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-", 5) == 0)
		id->name = "glibc";
	else if (strstr(base, "mimalloc") != NULL)
		id->name = "mimalloc";
	else if (strstr(base, "jemalloc") != NULL)
		id->name = "jemalloc";
	else if (strstr(base, "tcmalloc") != NULL)
		id->name = "tcmalloc";
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_result(const struct result *r)
{
	struct allocator_id id;
	double ops_per_sec = r->seconds > 0 ? (double)r->ops / r->seconds : 0;

	identify_allocator(&id);
	printf("{\"scenario\":");
	json_string(r->scenario);
	printf(",\"ops\":%" PRIu64 ",\"seconds\":%.9f,\"ops_per_sec\":%.3f"
	       ",\"ns_median\":%.3f,\"ns_p95\":%.3f,\"ns_p99\":%.3f"
	       ",\"minor_faults\":%" PRIu64 ",\"major_faults\":%" PRIu64
	       ",\"peak_rss_bytes\":%" PRIu64 ",\"checksum\":%" PRIu64
	       ",\"threads\":%" PRIu64 ",\"successors\":%" PRIu64 ",\"allocator\":",
	       r->ops, r->seconds, ops_per_sec, r->ns_median, r->ns_p95, r->ns_p99,
	       r->minor_faults, r->major_faults, r->peak_rss, r->checksum, r->threads,
	       r->successors);
	json_string(id.name);
	printf(",\"malloc_lib\":");
	json_string(id.lib);
	printf("}\n");
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* json, mir, vm, mixed: allocate, touch every page, free               */

#define PAGE 4096 /* "use" touches one byte at every multiple of 4096 */

#define JSON_SIZE 65536
#define MIR_SIZE 262144
#define VM_SIZE 2097152

/* One timed op: allocate size bytes, touch every page and the last byte, free. */
static double page_op(size_t size)
{
	uint64_t t0 = now_ns(), t1;
	size_t off;
	unsigned char *p = malloc(size);
	if (p == NULL)
		die_oom(size);
	for (off = 0; off < size; off += PAGE)
		p[off] = (unsigned char)(off >> 12);
	p[size - 1] = (unsigned char)size;
	free(p);
	t1 = now_ns();
	return (double)(t1 - t0);
}

/*
 * Checksum of the page scenarios. They draw nothing, so the spec's checksum is
 * extended to them as: each op, in order, fed as (slot 0, size), at most
 * CHECKSUM_OPS ops. It checks only that both sides run the same op sequence.
 */
static uint64_t page_checksum(const char *scenario)
{
	uint64_t h = FNV_OFFSET, n = 0, i;
	if (strcmp(scenario, "json") == 0) {
		for (i = 0; i < 1000 && n < CHECKSUM_OPS; i++, n++)
			h = fnv_op(h, 0, JSON_SIZE);
	} else if (strcmp(scenario, "mir") == 0) {
		for (i = 0; i < 100 && n < CHECKSUM_OPS; i++, n++)
			h = fnv_op(h, 0, MIR_SIZE);
	} else if (strcmp(scenario, "vm") == 0) {
		for (i = 0; i < 10 && n < CHECKSUM_OPS; i++, n++)
			h = fnv_op(h, 0, VM_SIZE);
	} else { /* mixed */
		for (i = 0; i < 1000 && n < CHECKSUM_OPS; i++) {
			h = fnv_op(h, 0, JSON_SIZE), n++;
			if (i % 10 == 0 && n < CHECKSUM_OPS)
				h = fnv_op(h, 0, MIR_SIZE), n++;
			if (i % 100 == 0 && n < CHECKSUM_OPS)
				h = fnv_op(h, 0, VM_SIZE), n++;
		}
	}
	return h;
}

static int run_pages(const char *scenario, struct result *r)
{
	/* mixed has 1000 json + 100 mir + 10 vm ops: 1110 at most of any scenario */
	static double v[1110];
	size_t n = 0, i;
	struct usage_mark before = usage_now();
	uint64_t t0 = now_ns();

	if (strcmp(scenario, "json") == 0) {
		for (i = 0; i < 1000; i++)
			v[n++] = page_op(JSON_SIZE);
	} else if (strcmp(scenario, "mir") == 0) {
		for (i = 0; i < 100; i++)
			v[n++] = page_op(MIR_SIZE);
	} else if (strcmp(scenario, "vm") == 0) {
		for (i = 0; i < 10; i++)
			v[n++] = page_op(VM_SIZE);
	} else {
		for (i = 0; i < 1000; i++) {
			v[n++] = page_op(JSON_SIZE);
			if (i % 10 == 0)
				v[n++] = page_op(MIR_SIZE);
			if (i % 100 == 0)
				v[n++] = page_op(VM_SIZE);
		}
	}
	r->seconds = (double)(now_ns() - t0) / 1e9;
	usage_finish(r, before);
	r->ops = n;
	r->threads = 1;
	r->checksum = page_checksum(scenario);
	summarize(r, v, n);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Small-block "use": write (size & 0xff) at offset 0 and size-1.      */

static inline void *small_alloc(uint64_t size)
{
	unsigned char *p = malloc((size_t)size);
	if (p == NULL)
		die_oom((size_t)size);
	p[0] = (unsigned char)(size & 0xff);
	p[size - 1] = (unsigned char)(size & 0xff);
	return p;
}

/* How often the clock is read: every CLOCK_EVERY steps (the spec allows 64 at most). */
#define CLOCK_EVERY 64

/* ------------------------------------------------------------------ */
/* larson                                                              */

struct larson_shared {
	const struct params *p;
	uint64_t deadline; /* now_ns() value after which workers stop */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t done;       /* workers whose chain has stopped; guarded by mu */
	uint64_t stop_ns;    /* latest stop time of any chain; guarded by mu */
	uint64_t successors; /* successor threads started; guarded by mu */
};

/* One worker chain: the state a thread hands to its successor. */
struct larson_worker {
	struct larson_shared *sh;
	uint64_t index;  /* worker index w; rng seeded seed + w */
	uint64_t rng;    /* splitmix64 state */
	void **slots;    /* chunks blocks */
	int filled;      /* slots filled (done once, by the first thread) */
	uint64_t steps;  /* steps done by the chain */
	uint64_t ck;     /* checksum of the first CHECKSUM_OPS ops (worker 0) */
	uint64_t ck_ops; /* ops fed to ck */
	struct samples lat; /* ns per op, one sample per CLOCK_EVERY steps */
};

static void *larson_thread(void *arg);

/* Runs rounds of steps until the chain's rounds are used up (returns 1) or the
 * deadline has passed (returns 0). */
static int larson_rounds(struct larson_worker *w)
{
	const struct params *p = w->sh->p;
	uint64_t span = p->max - p->min + 1;
	uint64_t chunks = p->chunks;
	uint64_t round, i;
	uint64_t t_last = now_ns();

	for (round = 0; round < p->rounds; round++) {
		for (i = 0; i < chunks; i++) {
			uint64_t victim = rng_below(&w->rng, chunks);
			uint64_t size;
			free(w->slots[victim]);
			size = p->min + rng_below(&w->rng, span);
			w->slots[victim] = small_alloc(size);
			if (w->ck_ops < CHECKSUM_OPS) {
				w->ck = fnv_op(w->ck, victim, size);
				w->ck_ops++;
			}
			if (++w->steps % CLOCK_EVERY == 0) {
				uint64_t t = now_ns();
				samples_add(&w->lat, (double)(t - t_last) / CLOCK_EVERY);
				t_last = t;
				if (t >= w->sh->deadline)
					return 0;
			}
		}
	}
	return 1;
}

static void larson_chain_done(struct larson_worker *w)
{
	struct larson_shared *sh = w->sh;
	uint64_t t = now_ns();
	pthread_mutex_lock(&sh->mu);
	if (t > sh->stop_ns)
		sh->stop_ns = t;
	sh->done++;
	pthread_cond_signal(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
}

static void *larson_thread(void *arg)
{
	struct larson_worker *w = arg;
	const struct params *p = w->sh->p;

	if (!w->filled) {
		uint64_t span = p->max - p->min + 1, i;
		for (i = 0; i < p->chunks; i++) {
			uint64_t size = p->min + rng_below(&w->rng, span);
			w->slots[i] = small_alloc(size);
			if (w->ck_ops < CHECKSUM_OPS) {
				w->ck = fnv_op(w->ck, i, size);
				w->ck_ops++;
			}
		}
		w->filled = 1;
	}
	for (;;) {
		pthread_t next;
		pthread_attr_t attr;
		int err;

		if (!larson_rounds(w)) {
			larson_chain_done(w);
			return NULL;
		}
		/* Rounds used up: hand slots and rng state to a successor and exit. */
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		/* Counted before the successor exists: after pthread_create this
		 * thread must not touch shared state, which may be gone once the
		 * successor has stopped and main has returned. */
		pthread_mutex_lock(&w->sh->mu);
		w->sh->successors++;
		pthread_mutex_unlock(&w->sh->mu);
		err = pthread_create(&next, &attr, larson_thread, w);
		pthread_attr_destroy(&attr);
		if (err == 0)
			return NULL;
		/* No thread to be had: this thread carries on as its own successor. */
		pthread_mutex_lock(&w->sh->mu);
		w->sh->successors--;
		pthread_mutex_unlock(&w->sh->mu);
	}
}

static int run_larson(const struct params *p, struct result *r)
{
	struct larson_shared sh;
	struct larson_worker *ws;
	uint64_t t0, w, i, nsamples = 0;
	struct usage_mark before;
	double *all;

	ws = calloc(p->threads, sizeof *ws);
	if (ws == NULL)
		die_oom(p->threads * sizeof *ws);
	memset(&sh, 0, sizeof sh);
	sh.p = p;
	pthread_mutex_init(&sh.mu, NULL);
	pthread_cond_init(&sh.cv, NULL);
	for (w = 0; w < p->threads; w++) {
		ws[w].sh = &sh;
		ws[w].index = w;
		ws[w].rng = p->seed + w;
		ws[w].ck = FNV_OFFSET;
		ws[w].slots = calloc(p->chunks, sizeof(void *));
		if (ws[w].slots == NULL || samples_init(&ws[w].lat) != 0)
			die_oom(p->chunks * sizeof(void *));
	}

	before = usage_now();
	t0 = now_ns();
	sh.deadline = t0 + (uint64_t)(p->seconds * 1e9);
	for (w = 0; w < p->threads; w++) {
		pthread_t t;
		pthread_attr_t attr;
		int err;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&t, &attr, larson_thread, &ws[w]);
		pthread_attr_destroy(&attr);
		if (err != 0) {
			fprintf(stderr, "hakmem-native: pthread_create: %s\n", strerror(err));
			exit(1);
		}
	}
	pthread_mutex_lock(&sh.mu);
	while (sh.done < p->threads)
		pthread_cond_wait(&sh.cv, &sh.mu);
	pthread_mutex_unlock(&sh.mu);

	r->seconds = (double)(sh.stop_ns - t0) / 1e9;
	r->ops = 0;
	for (w = 0; w < p->threads; w++) {
		r->ops += ws[w].steps;
		for (i = 0; i < p->chunks; i++)
			free(ws[w].slots[i]);
	}
	usage_finish(r, before);
	/* A short run may stop worker 0 before CHECKSUM_OPS ops: finish the
	 * checksum from its rng state, drawing the rest without allocating. */
	while (ws[0].ck_ops < CHECKSUM_OPS) {
		uint64_t victim = rng_below(&ws[0].rng, p->chunks);
		uint64_t size = p->min + rng_below(&ws[0].rng, p->max - p->min + 1);
		ws[0].ck = fnv_op(ws[0].ck, victim, size);
		ws[0].ck_ops++;
	}
	r->checksum = ws[0].ck;
	r->threads = p->threads;
	r->successors = sh.successors;

	for (w = 0; w < p->threads; w++)
		nsamples += ws[w].lat.n;
	all = malloc((nsamples + 1) * sizeof(double));
	if (all == NULL)
		die_oom((nsamples + 1) * sizeof(double));
	nsamples = 0;
	for (w = 0; w < p->threads; w++) {
		memcpy(all + nsamples, ws[w].lat.v, ws[w].lat.n * sizeof(double));
		nsamples += ws[w].lat.n;
	}
	summarize(r, all, nsamples);
	free(all);
	/* Every chain has stopped: its last thread touches nothing after
	 * larson_chain_done, so the workers' memory can go. */
	for (w = 0; w < p->threads; w++) {
		free(ws[w].slots);
		free(ws[w].lat.v);
	}
	free(ws);
	return 0;
}

static uint64_t larson_checksum(const struct params *p)
{
	uint64_t rng = p->seed, h = FNV_OFFSET, n = 0, span = p->max - p->min + 1, i;
	for (i = 0; i < p->chunks && n < CHECKSUM_OPS; i++, n++)
		h = fnv_op(h, i, p->min + rng_below(&rng, span));
	while (n < CHECKSUM_OPS) {
		uint64_t victim = rng_below(&rng, p->chunks);
		uint64_t size = p->min + rng_below(&rng, span);
		h = fnv_op(h, victim, size);
		n++;
	}
	return h;
}

/* ------------------------------------------------------------------ */
/* random-mixed                                                        */

#define RM_MIN 16    /* sizes are 16 + rand(1009): 16 .. 1024 bytes */
#define RM_SPAN 1009

static int run_random_mixed(const struct params *p, struct result *r)
{
	uint64_t rng = p->seed, n = p->slots, s, i, ck = FNV_OFFSET, ck_ops = 0;
	void **slots = calloc(n, sizeof(void *));
	struct samples lat;
	struct usage_mark before;
	uint64_t t0, t_last;

	if (slots == NULL || samples_init(&lat) != 0)
		die_oom(n * sizeof(void *));
	before = usage_now();
	for (i = 0; i < n; i++) {
		uint64_t size = RM_MIN + rng_below(&rng, RM_SPAN);
		slots[i] = small_alloc(size);
		if (ck_ops < CHECKSUM_OPS) {
			ck = fnv_op(ck, i, size);
			ck_ops++;
		}
	}
	t0 = t_last = now_ns();
	for (s = 1; s <= p->steps; s++) {
		uint64_t victim = rng_below(&rng, n), size;
		free(slots[victim]);
		size = RM_MIN + rng_below(&rng, RM_SPAN);
		slots[victim] = small_alloc(size);
		if (ck_ops < CHECKSUM_OPS) {
			ck = fnv_op(ck, victim, size);
			ck_ops++;
		}
		if (s % CLOCK_EVERY == 0) {
			uint64_t t = now_ns();
			samples_add(&lat, (double)(t - t_last) / CLOCK_EVERY);
			t_last = t;
		}
	}
	r->seconds = (double)(now_ns() - t0) / 1e9;
	for (i = 0; i < n; i++)
		free(slots[i]);
	usage_finish(r, before);
	r->ops = p->steps;
	r->threads = 1;
	/* Fewer than CHECKSUM_OPS ops ran: finish the checksum from the rng state,
	 * drawing the rest without allocating. */
	while (ck_ops < CHECKSUM_OPS) {
		uint64_t victim = rng_below(&rng, n);
		uint64_t size = RM_MIN + rng_below(&rng, RM_SPAN);
		ck = fnv_op(ck, victim, size);
		ck_ops++;
	}
	r->checksum = ck;
	summarize(r, lat.v, lat.n);
	free(lat.v);
	free(slots);
	return 0;
}

static uint64_t random_mixed_checksum(const struct params *p)
{
	uint64_t rng = p->seed, h = FNV_OFFSET, n = 0, i;
	for (i = 0; i < p->slots && n < CHECKSUM_OPS; i++, n++)
		h = fnv_op(h, i, RM_MIN + rng_below(&rng, RM_SPAN));
	while (n < CHECKSUM_OPS) {
		uint64_t victim = rng_below(&rng, p->slots);
		uint64_t size = RM_MIN + rng_below(&rng, RM_SPAN);
		h = fnv_op(h, victim, size);
		n++;
	}
	return h;
}

/* ------------------------------------------------------------------ */

static int is_page_scenario(const char *s)
{
	return strcmp(s, "json") == 0 || strcmp(s, "mir") == 0 || strcmp(s, "vm") == 0 ||
	       strcmp(s, "mixed") == 0;
}

/* Resolves aliases (which override slots=); returns the canonical scenario
 * name or NULL. */
static const char *canonical(const char *s, struct params *p)
{
	if (is_page_scenario(s) || strcmp(s, "larson") == 0 || strcmp(s, "random-mixed") == 0)
		return s;
	if (strcmp(s, "random-mixed-400") == 0) {
		p->slots = 400;
		return "random-mixed";
	}
	if (strcmp(s, "random-mixed-8192") == 0) {
		p->slots = 8192;
		return "random-mixed";
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct params p;
	struct result r;
	const char *scenario;
	int checksum_only = 0;

	if (argc >= 2 && strcmp(argv[1], "checksum") == 0) {
		checksum_only = 1;
		argv++, argc--;
	}
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage();
		return 2;
	}
	if (parse_params(argc - 2, argv + 2, &p) != 0) {
		usage();
		return 2;
	}
	scenario = canonical(argv[1], &p);
	if (scenario == NULL) {
		fprintf(stderr, "hakmem-native: unknown scenario %s\n", argv[1]);
		usage();
		return 2;
	}

	if (checksum_only) {
		uint64_t h;
		if (is_page_scenario(scenario))
			h = page_checksum(scenario);
		else if (strcmp(scenario, "larson") == 0)
			h = larson_checksum(&p);
		else
			h = random_mixed_checksum(&p);
		printf("%" PRIu64 "\n", h);
		return 0;
	}

	memset(&r, 0, sizeof r);
	r.scenario = argv[1];
	if (is_page_scenario(scenario))
		run_pages(scenario, &r);
	else if (strcmp(scenario, "larson") == 0)
		run_larson(&p, &r);
	else
		run_random_mixed(&p, &r);
	print_result(&r);
	return 0;
}
