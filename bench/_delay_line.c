// The delay line of `bench/bench.ts`'s network workloads: a userspace wire
// between two network namespaces that holds every packet for a fixed time
// before passing it on, so that TCP between them sees a real round trip
// (twice the delay) and no cap but this program's own speed.
//
// It opens one TUN device in each namespace (entering each with setns(2) to
// create it there), then, in one thread, reads the packets each side sends,
// stamps them with the time they are due, keeps them in a FIFO queue per
// direction (a ring of variable-sized records, 128 MiB each by default, so
// that nothing is dropped at any rate it can carry), and writes each one to
// the other side's TUN device once due. No packet is dropped, reordered or
// corrupted on purpose: what TCP sees is a longer wire.
//
// With --gso (the default) the devices take IFF_VNET_HDR and TSO/checksum
// offloads: the stacks hand over TCP segments of up to 64 KiB in one packet
// with a virtio-net header, which is passed through unchanged, so that the
// link keeps an MTU of 1500 (TCP's window and slow start count real-sized
// segments) while this program moves a few thousand large packets a second.
//
//   cc -O2 -o delay_line bench/_delay_line.c
//   delay_line [--delay-us 20000] [--queue-mib 128] [--no-gso] [--fifo PRIO]
//              NETNS_A IFNAME_A NETNS_B IFNAME_B
//
// --fifo runs it under SCHED_FIFO at that priority: on a busy machine a wire
// should not wait for a time slice (it sleeps in ppoll whenever no packet is
// due, and needs about 1 CPU second per GB at 64 KiB per packet).
//
// NETNS_A and NETNS_B are paths such as /run/netns/NAME. It prints "ready"
// once both devices exist (they disappear when it exits), and on SIGTERM or
// SIGINT prints one JSON line of counters to stdout and exits 0 (SIGUSR1
// prints the line without exiting). Needs root (CAP_NET_ADMIN and
// CAP_SYS_ADMIN).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

// The largest packet read: a 64 KiB GSO segment plus the virtio-net header.
#define MAX_PACKET (65536 + 256)

struct record {
  uint64_t due_ns;
  uint32_t len;
  uint32_t pad;
};

#define RECORD sizeof(struct record)
#define NONE SIZE_MAX

// One direction: a ring of records [head, tail), wrapping at `wrap_at`.
struct queue {
  const char *name;
  char *buf;
  size_t cap;
  size_t head;
  size_t tail;
  size_t wrap_at;
  size_t count;
  size_t bytes_queued;
  // Counters, reported at the end.
  uint64_t packets;
  uint64_t bytes;
  uint64_t drops;
  uint64_t write_errors;
  uint64_t truncated;
  size_t max_queued;
  uint64_t max_late_ns;
  uint64_t sum_late_ns;
  uint64_t late_1ms;
};

static volatile sig_atomic_t stopping = 0;
static volatile sig_atomic_t report = 0;

static void on_stop(int sig) {
  (void)sig;
  stopping = 1;
}

static void on_report(int sig) {
  (void)sig;
  report = 1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "delay_line: %s: %s\n", what, strerror(errno));
  exit(1);
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

// Where the next record can be written (room for the largest packet), or
// NULL if the queue is full.
static char *queue_space(struct queue *q) {
  const size_t need = RECORD + MAX_PACKET;
  if (q->count == 0) q->head = q->tail = 0, q->wrap_at = NONE;
  if (q->wrap_at == NONE) {
    // Used: [head, tail). Free: [tail, cap) and [0, head).
    if (q->cap - q->tail >= need) return q->buf + q->tail;
    if (q->head > need) {
      q->wrap_at = q->tail;
      q->tail = 0;
      return q->buf;
    }
    return NULL;
  }
  // Used: [head, wrap_at) and [0, tail). Free: [tail, head).
  if (q->head - q->tail > need) return q->buf + q->tail;
  return NULL;
}

static void queue_pop(struct queue *q, const struct record *r) {
  q->head += align8(RECORD + r->len);
  q->bytes_queued -= r->len;
  if (--q->count == 0) {
    q->head = q->tail = 0;
    q->wrap_at = NONE;
  } else if (q->head == q->wrap_at) {
    q->head = 0;
    q->wrap_at = NONE;
  }
}

static char scratch[MAX_PACKET];

// Reads what `fd` has (at most `budget` packets) into `q`, due `delay` from
// now. Returns whether the device ran dry.
static int drain(int fd, struct queue *q, uint64_t delay, int budget) {
  for (; budget > 0; budget--) {
    char *slot = queue_space(q);
    char *into = slot == NULL ? scratch : slot + RECORD;
    ssize_t n = read(fd, into, MAX_PACKET);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
      if (errno == EINTR) return 0;
      die("read");
    }
    if (n == 0) return 1;
    if (n == MAX_PACKET) q->truncated++;
    if (slot == NULL) {
      q->drops++;
      continue;
    }
    struct record *r = (struct record *)slot;
    r->due_ns = now_ns() + delay;
    r->len = (uint32_t)n;
    q->tail += align8(RECORD + (size_t)n);
    q->count++;
    q->bytes_queued += (size_t)n;
    if (q->bytes_queued > q->max_queued) q->max_queued = q->bytes_queued;
  }
  return 0;
}

// When the first packet of `q` is due (UINT64_MAX if none is queued).
static uint64_t next_due(const struct queue *q) {
  if (q->count == 0) return UINT64_MAX;
  return ((const struct record *)(q->buf + q->head))->due_ns;
}

// Writes the packets of `q` that are due by `now` to `fd`.
static void forward(struct queue *q, int fd, uint64_t now) {
  while (q->count > 0) {
    const struct record *r = (const struct record *)(q->buf + q->head);
    if (r->due_ns > now) return;
    uint64_t late = now - r->due_ns;
    if (late > q->max_late_ns) q->max_late_ns = late;
    q->sum_late_ns += late;
    if (late > 1000000) q->late_1ms++;
    ssize_t n = write(fd, (const char *)r + RECORD, r->len);
    if (n < 0) {
      if (errno == EINTR) continue;
      q->write_errors++;
    } else {
      q->packets++;
      q->bytes += r->len;
    }
    queue_pop(q, r);
  }
}

static int open_tun(const char *netns, const char *name, int gso) {
  int ns = open(netns, O_RDONLY | O_CLOEXEC);
  if (ns < 0) die(netns);
  if (setns(ns, CLONE_NEWNET) < 0) die("setns");
  close(ns);
  // A TUN device belongs to the namespace of the task that opens it.
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) die("/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (gso ? IFF_VNET_HDR : 0);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  if (gso) {
    unsigned offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(fd, TUNSETOFFLOAD, offloads) < 0) die("TUNSETOFFLOAD");
  }
  if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) die("O_NONBLOCK");
  return fd;
}

static void print_counters(struct queue *q[2], uint64_t delay) {
  printf("{\"delay_us\":%llu", (unsigned long long)(delay / 1000));
  for (int i = 0; i < 2; i++) {
    printf(",\"%s\":{\"packets\":%llu,\"bytes\":%llu,\"drops\":%llu,"
           "\"write_errors\":%llu,\"truncated\":%llu,\"max_queued\":%zu,"
           "\"max_late_us\":%llu,\"mean_late_us\":%llu,"
           "\"late_over_1ms\":%llu}",
           q[i]->name, (unsigned long long)q[i]->packets,
           (unsigned long long)q[i]->bytes, (unsigned long long)q[i]->drops,
           (unsigned long long)q[i]->write_errors,
           (unsigned long long)q[i]->truncated, q[i]->max_queued,
           (unsigned long long)(q[i]->max_late_ns / 1000),
           (unsigned long long)(q[i]->packets + q[i]->write_errors == 0
                                    ? 0
                                    : q[i]->sum_late_ns / 1000 /
                                          (q[i]->packets + q[i]->write_errors)),
           (unsigned long long)q[i]->late_1ms);
  }
  printf("}\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  uint64_t delay = 20000 * 1000ull;
  size_t queue_mib = 128;
  int gso = 1;
  int fifo = 0;
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    if (strcmp(argv[i], "--delay-us") == 0 && i + 1 < argc) {
      delay = strtoull(argv[++i], NULL, 10) * 1000ull;
    } else if (strcmp(argv[i], "--queue-mib") == 0 && i + 1 < argc) {
      queue_mib = strtoull(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--no-gso") == 0) {
      gso = 0;
    } else if (strcmp(argv[i], "--fifo") == 0 && i + 1 < argc) {
      fifo = atoi(argv[++i]);
    } else {
      fprintf(stderr, "delay_line: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (argc - i != 4 || queue_mib < 1) {
    fprintf(stderr, "usage: delay_line [--delay-us N] [--queue-mib N] "
                    "[--no-gso] [--fifo PRIO] NETNS_A IFNAME_A NETNS_B "
                    "IFNAME_B\n");
    return 2;
  }
  int fd[2];
  fd[0] = open_tun(argv[i], argv[i + 1], gso);
  fd[1] = open_tun(argv[i + 2], argv[i + 3], gso);
  struct queue ab = {.name = "a_to_b"}, ba = {.name = "b_to_a"};
  struct queue *q[2] = {&ab, &ba};
  for (int k = 0; k < 2; k++) {
    q[k]->cap = queue_mib << 20;
    q[k]->buf = malloc(q[k]->cap);
    if (q[k]->buf == NULL) die("malloc");
    q[k]->wrap_at = NONE;
  }
  if (fifo > 0) {
    struct sched_param param = {.sched_priority = fifo};
    if (sched_setscheduler(0, SCHED_FIFO, &param) < 0) die("SCHED_FIFO");
  }
  struct sigaction stop = {.sa_handler = on_stop};
  struct sigaction usr1 = {.sa_handler = on_report};
  sigaction(SIGTERM, &stop, NULL);
  sigaction(SIGINT, &stop, NULL);
  sigaction(SIGUSR1, &usr1, NULL);
  printf("ready\n");
  fflush(stdout);

  struct pollfd fds[2] = {{.fd = fd[0], .events = POLLIN},
                          {.fd = fd[1], .events = POLLIN}};
  while (!stopping) {
    if (report) {
      report = 0;
      print_counters(q, delay);
    }
    uint64_t now = now_ns();
    // Packets read from side A (fd[0]) go to side B (fd[1]), and back.
    forward(&ab, fd[1], now);
    forward(&ba, fd[0], now);
    int dry = drain(fd[0], &ab, delay, 64);
    dry &= drain(fd[1], &ba, delay, 64);
    if (!dry) continue;
    // Both devices are empty: sleep until a packet arrives or one is due.
    uint64_t next = next_due(&ab);
    if (next_due(&ba) < next) next = next_due(&ba);
    struct timespec timeout, *wait = NULL;
    if (next != UINT64_MAX) {
      now = now_ns();
      uint64_t left = next > now ? next - now : 0;
      timeout.tv_sec = (time_t)(left / 1000000000u);
      timeout.tv_nsec = (long)(left % 1000000000u);
      wait = &timeout;
    }
    if (ppoll(fds, 2, wait, NULL) < 0 && errno != EINTR) die("ppoll");
  }
  print_counters(q, delay);
  return 0;
}
