/*
 * Delay and jitter at the packet level, where this kernel has no netem: runs inside a member's
 * network namespace, takes the packets an iptables NFQUEUE rule hands it (what the member sends),
 * and lets each go after the delay plus a random jitter. Packets leave in the order they came
 * (a later one never overtakes an earlier one, as on one link), so TCP sees latency, not
 * reordering. Addresses are untouched: the kernel sends the packet itself.
 *
 *   nfq-delay <queue> <delay-ms> <jitter-ms>
 *
 * The delay and jitter can change while it runs: a line "<delay-ms> <jitter-ms>" on stdin.
 * Built by cluster/network/delay.ts (gcc, libnetfilter-queue).
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <netinet/in.h> /* before the kernel's headers, which define some of it again */
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Packets held at once: the kernel queue's length too. Past it the kernel lets packets through
 * undelayed (fail-open) rather than dropping them, so this buffer never overflows. */
#define CAPACITY 65536
#define MAX_MS 10000.0 /* as delay.ts: far from int64 overflow in microseconds */

static struct {
  uint32_t id;
  int64_t due_us;
} held[CAPACITY];
static size_t head, count;
static int64_t last_due_us;
static double delay_ms, jitter_ms;
static struct nfq_q_handle *queue;

static int64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Uniform in [-jitter, +jitter]: a mean of `delay`, as netem's default. */
static int64_t sample_us(void) {
  double jitter = jitter_ms * (2.0 * drand48() - 1.0);
  double ms = delay_ms + jitter;
  return ms > 0 ? (int64_t)(ms * 1000) : 0;
}

static void release(uint32_t id) {
  if (nfq_set_verdict(queue, id, NF_ACCEPT, 0, NULL) < 0) perror("nfq-delay: verdict");
}

static int on_packet(struct nfq_q_handle *q, struct nfgenmsg *msg, struct nfq_data *data,
                     void *unused) {
  (void)q, (void)msg, (void)unused;
  struct nfqnl_msg_packet_hdr *header = nfq_get_msg_packet_hdr(data);
  if (header == NULL) return 0;
  uint32_t id = ntohl(header->packet_id);
  int64_t due = now_us() + sample_us();
  if (due < last_due_us) due = last_due_us; /* in order */
  if (count == CAPACITY) { /* cannot happen with the kernel's queue as long as ours */
    release(id);
    return 0;
  }
  held[(head + count) % CAPACITY].id = id;
  held[(head + count) % CAPACITY].due_us = due;
  count++;
  last_due_us = due;
  return 0;
}

static void release_due(void) {
  int64_t now = now_us();
  while (count > 0 && held[head].due_us <= now) {
    release(held[head].id);
    head = (head + 1) % CAPACITY;
    count--;
  }
}

/* Settings from stdin, read with read(2) (stdio's buffer would hide a second line from poll):
 * the last complete line wins. Returns -1 once stdin is closed. */
static char pending[256];
static size_t pending_len;

static void apply(const char *line) {
  double d, j;
  if (sscanf(line, "%lf %lf", &d, &j) == 2 && d >= 0 && j >= 0 && d <= MAX_MS && j <= MAX_MS) {
    delay_ms = d;
    jitter_ms = j;
  } else {
    fprintf(stderr, "nfq-delay: expected \"<delay-ms> <jitter-ms>\", got %s\n", line);
  }
}

static int read_settings(void) {
  ssize_t got = read(0, pending + pending_len, sizeof pending - 1 - pending_len);
  if (got <= 0) return got == 0 || errno != EINTR ? -1 : 0;
  pending_len += (size_t)got;
  pending[pending_len] = 0;
  char *line = pending, *end;
  while ((end = strchr(line, '\n')) != NULL) {
    *end = 0;
    apply(line);
    line = end + 1;
  }
  pending_len = strlen(line);
  memmove(pending, line, pending_len + 1);
  if (pending_len == sizeof pending - 1) pending_len = 0; /* a line too long: dropped */
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: nfq-delay <queue> <delay-ms> <jitter-ms>\n");
    return 2;
  }
  char first[128];
  snprintf(first, sizeof first, "%s %s", argv[2], argv[3]);
  apply(first);
  srand48((long)now_us());

  struct nfq_handle *h = nfq_open();
  if (h == NULL) {
    perror("nfq-delay: nfq_open");
    return 1;
  }
  queue = nfq_create_queue(h, (uint16_t)atoi(argv[1]), on_packet, NULL);
  if (queue == NULL) {
    perror("nfq-delay: nfq_create_queue");
    return 1;
  }
  /* Only the packet's id is needed: the kernel keeps the packet and sends it on ACCEPT. */
  nfq_set_mode(queue, NFQNL_COPY_META, 0);
  nfq_set_queue_maxlen(queue, CAPACITY);
  nfq_set_queue_flags(queue, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
  int fd = nfq_fd(h);
  printf("ready\n");
  fflush(stdout);

  char buf[4096] __attribute__((aligned));
  for (;;) {
    /* Microseconds: a data centre's delay is half a millisecond. */
    struct timespec wait = {0, 0}, *timeout = NULL;
    if (count > 0) {
      int64_t us = held[head].due_us - now_us();
      if (us > 0) wait = (struct timespec){us / 1000000, (us % 1000000) * 1000};
      timeout = &wait;
    }
    struct pollfd fds[2] = {{fd, POLLIN, 0}, {0, POLLIN, 0}};
    int n = ppoll(fds, 2, timeout, NULL);
    if (n < 0 && errno != EINTR) {
      perror("nfq-delay: poll");
      return 1;
    }
    if (n > 0 && (fds[0].revents & POLLIN)) {
      ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (got > 0) nfq_handle_packet(h, buf, (int)got);
      else if (got < 0 && errno == ENOBUFS) fprintf(stderr, "nfq-delay: packets lost (ENOBUFS)\n");
    }
    if (n > 0 && (fds[1].revents & (POLLIN | POLLHUP)))
      if (read_settings() < 0) return 0; /* stdin closed: the runner is gone, so are we */
    release_due();
  }
}
