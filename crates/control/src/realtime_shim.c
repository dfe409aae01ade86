/* rift-realtime: an LD_PRELOAD library that shifts the wall clock (CLOCK_REALTIME) of one
 * process by the offset in a file, and nothing else.
 *
 * What a clock nemesis does on a real machine (clock_settime) moves CLOCK_REALTIME and
 * leaves CLOCK_MONOTONIC alone. libfaketime can do that too (FAKETIME_DONT_FAKE_MONOTONIC=1),
 * but its pthread_cond_timedwait wrapper then makes every timed wait of a JVM return at
 * once (libfaketime 0.9.10, measured: Object.wait(5) and LockSupport.parkNanos return in
 * 0 ms), so a JVM spins. This library wraps only the calls that read the wall clock:
 * clock_gettime(CLOCK_REALTIME and CLOCK_REALTIME_COARSE), gettimeofday, time.
 *
 * RIFT_FAKETIME_FILE names the offset file: seconds relative to the real clock, as rift's
 * clock nemesis writes it ("+1.250", "-0.500"; libfaketime's s/m/h/d suffixes accepted).
 * It is re-read when RIFT_FAKETIME_PERIOD_MS (default 5) has passed on the monotonic
 * clock, so a change is seen within that period. A missing or unreadable file means no
 * offset; a file that does not parse keeps the previous offset.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const long long NS = 1000000000LL;

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
static _Atomic(clock_gettime_fn) real_clock_gettime;
static _Atomic long long offset_ns;
static _Atomic long long next_read_ns = -1;
static long long period_ns = 5000000LL;

static clock_gettime_fn real(void) {
  clock_gettime_fn f = atomic_load(&real_clock_gettime);
  if (f == NULL) {
    f = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    atomic_store(&real_clock_gettime, f);
  }
  return f;
}

/* "+1.250", "-0.5", "+60s", "-2m": seconds (with an optional unit) to nanoseconds. */
static int parse_offset(const char *s, long long *out) {
  while (*s == ' ' || *s == '\t') s++;
  if (*s != '+' && *s != '-') return -1;
  char *end;
  double v = strtod(s, &end);
  if (end == s) return -1;
  double scale = 1.0;
  switch (*end) {
    case 's': end++; break;
    case 'm': scale = 60.0; end++; break;
    case 'h': scale = 3600.0; end++; break;
    case 'd': scale = 86400.0; end++; break;
    default: break;
  }
  while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') end++;
  if (*end != '\0') return -1;
  v *= scale;
  if (!(v > -1e9 && v < 1e9)) return -1;
  *out = (long long)(v * 1e9);
  return 0;
}

static void read_offset(void) {
  const char *path = getenv("RIFT_FAKETIME_FILE");
  if (path == NULL || *path == '\0') {
    atomic_store(&offset_ns, 0);
    return;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    atomic_store(&offset_ns, 0);
    return;
  }
  char buf[64];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  long long v;
  if (parse_offset(buf, &v) == 0) atomic_store(&offset_ns, v);
}

static long long current_offset(void) {
  struct timespec m;
  if (real()(CLOCK_MONOTONIC, &m) != 0) return atomic_load(&offset_ns);
  long long now = (long long)m.tv_sec * NS + m.tv_nsec;
  long long next = atomic_load(&next_read_ns);
  if (now >= next && atomic_compare_exchange_strong(&next_read_ns, &next, now + period_ns)) {
    read_offset();
  }
  return atomic_load(&offset_ns);
}

static void shift(struct timespec *ts, long long by) {
  long long t = (long long)ts->tv_sec * NS + ts->tv_nsec + by;
  long long sec = t / NS, nsec = t % NS;
  if (nsec < 0) {
    nsec += NS;
    sec -= 1;
  }
  ts->tv_sec = (time_t)sec;
  ts->tv_nsec = (long)nsec;
}

__attribute__((constructor)) static void init(void) {
  const char *p = getenv("RIFT_FAKETIME_PERIOD_MS");
  if (p != NULL && *p != '\0') {
    long ms = strtol(p, NULL, 10);
    if (ms > 0) period_ns = (long long)ms * 1000000LL;
  }
  real();
  current_offset();
}

int clock_gettime(clockid_t id, struct timespec *ts) {
  int r = real()(id, ts);
  if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
    shift(ts, current_offset());
  }
  return r;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
  (void)tz;
  /* Declared nonnull by glibc, yet callers pass NULL: check through a copy. */
  struct timeval *volatile out = tv;
  if (out == NULL) return 0;
  struct timespec ts;
  int r = clock_gettime(CLOCK_REALTIME, &ts);
  if (r == 0) {
    out->tv_sec = ts.tv_sec;
    out->tv_usec = ts.tv_nsec / 1000;
  }
  return r;
}

time_t time(time_t *out) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
  if (out != NULL) *out = ts.tv_sec;
  return ts.tv_sec;
}
