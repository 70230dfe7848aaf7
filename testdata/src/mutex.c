/* mutex.c: lock contention for stackconv's off-CPU test data.
 *
 * Built -O2 -g -fno-omit-frame-pointer (see testdata/record.sh, section
 * c-mutex) and recorded with `perf record -g -e sched:sched_switch`: four
 * threads (locker_main) contend on one pthread_mutex_t, each holding it for
 * about 1 ms of CPU work per turn, until the run time is over; the main
 * thread waits for them in pthread_join. Most of the off-CPU time is then
 * spent in glibc's lock wait (pthread_mutex_lock -> __lll_lock_wait ->
 * futex), the rest in pthread_join and in preemption.
 *
 * The lock and the join are called from noinline helpers (take_turn,
 * join_all): libc has no frame pointers, so a frame-pointer stack sampled
 * inside libc loses the frame that called libc and shows its caller
 * (locker_main, main) instead; without the helpers that would be
 * start_thread and __libc_start_call_main.
 *
 * Usage: mutex [milliseconds]   (default 400)
 * The result goes to stderr.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define THREADS 4
#define HOLD_NS 1000000L

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long shared_total;
static struct timespec deadline;

static long elapsed_ns(const struct timespec *from, const struct timespec *to) {
  return (to->tv_sec - from->tv_sec) * 1000000000L + (to->tv_nsec - from->tv_nsec);
}

/* About 1 ms of CPU work (a hash loop, checking the clock now and then). */
__attribute__((noinline)) static unsigned long work(unsigned long seed) {
  struct timespec start, now;
  unsigned long h = seed | 1;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    for (int i = 0; i < 2000; i++) {
      h ^= h << 13;
      h ^= h >> 7;
      h ^= h << 17;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (elapsed_ns(&start, &now) < HOLD_NS);
  return h;
}

/* One turn: take the lock, work while holding it, let it go. */
__attribute__((noinline)) static void take_turn(unsigned long id) {
  pthread_mutex_lock(&lock);
  shared_total += work(shared_total + id);
  pthread_mutex_unlock(&lock);
}

static void *locker_main(void *arg) {
  unsigned long id = (unsigned long)arg;
  struct timespec now;
  do {
    take_turn(id);
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (elapsed_ns(&now, &deadline) > 0);
  return NULL;
}

__attribute__((noinline)) static void join_all(pthread_t *threads, int n) {
  for (int i = 0; i < n; i++) {
    pthread_join(threads[i], NULL);
  }
}

int main(int argc, char **argv) {
  long ms = argc > 1 ? strtol(argv[1], NULL, 10) : 400;
  if (ms <= 0) {
    fprintf(stderr, "usage: mutex [milliseconds > 0]\n");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += ms / 1000;
  deadline.tv_nsec += (ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec += 1;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) {
    if (pthread_create(&threads[i], NULL, locker_main, (void *)(unsigned long)i) != 0) {
      perror("pthread_create");
      return 1;
    }
  }
  join_all(threads, THREADS);
  fprintf(stderr, "total %lu\n", shared_total);
  return 0;
}
