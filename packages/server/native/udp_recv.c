/*
 * The UDP receive socket of logsrv's UDP receive thread, read many datagrams per system call
 * (Linux recvmmsg) by a thread of its own, and handed to JavaScript many at a time.
 *
 * The reading thread (a pthread, named after the receive thread with "-r": `logsrv-udp-r`,
 * `logsrv-syslog-r`) does nothing else: it blocks in poll() on the socket, reads what is there with
 * recvmmsg, appends each datagram to a ring (bounded; a datagram that finds it full is counted and
 * dropped, see takeDrops) and wakes the JavaScript thread (uv_async_send). It asks the kernel for
 * a short time slice (sched_setattr; glibc has no wrapper for it) so that it gets a core soon after
 * the socket becomes readable. The JavaScript thread parses from the ring: when it is late (no core,
 * garbage collection) the ring, not the kernel's much smaller socket buffer, holds what arrives.
 *
 * JavaScript owns the callback's memory: one buffer of `slots` slots of `slotBytes` bytes each, a
 * length per slot (Int32Array; the datagram's real length, which exceeds slotBytes when it was
 * cut) and the source address per slot (Uint8Array, 20 bytes: family 4 or 6, port (2 bytes, big
 * endian), one byte unused, then 16 bytes of address). The callback gets the number of slots
 * filled; it must use them before it returns, as the next call reuses them. close() stops the
 * reading thread, which first reads what the socket still holds, and hands the ring's datagrams to
 * the callback before it returns.
 *
 * Off Linux the module loads but `supported` is false, and logsrv reads with node:dgram.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define ADDR_BYTES 20
/* recvmmsg calls per readable event before the loop gets a turn (timers, messages, close). */
#define MAX_ROUNDS 16
/* The reading thread's pause after it has read all there was (see read_loop). */
#define READ_PACE_NS 1000000L

/* A datagram in the ring: its real length, the bytes kept (at most slot_bytes), its source
   address, then the bytes, the whole rounded up to 8. A length of WRAP says the rest of the ring up
   to its end is unused and the next record is at its start. */
#define REC_HEADER 32
#define WRAP 0xFFFFFFFFu

typedef struct Reader {
  napi_env env;
  int fd;
  int closed;
  /* Wakes the JavaScript thread when the ring has datagrams (uv_async_send coalesces). */
  uv_async_t wake;
  unsigned slots;
  unsigned slot_bytes;
  uint8_t* data;
  int32_t* lens;
  uint8_t* addrs;
  napi_ref callback;
  napi_ref keep[3];
  napi_async_context async;
  /* Keeps the thread's teardown waiting until libuv has closed the async handle (whose close
     callback lives in this library, which teardown unloads). */
  napi_async_cleanup_hook_handle hook;
  int handle_closing;

  /* The reading thread: blocks in poll() on the socket and stop_fd, reads with recvmmsg into its
     own slots and appends each datagram to the ring. */
  pthread_t thread;
  int thread_started;
  int stop_fd;
  uint64_t slice_ns;
  unsigned t_slots;
  uint8_t* t_data;
  struct mmsghdr* hdrs;
  struct iovec* iovs;
  struct sockaddr_storage* from;

  /* Single producer (the reading thread), single consumer (the JavaScript thread). head and tail
     count bytes since the start and only grow; position = count % ring_bytes. */
  uint8_t* ring;
  size_t ring_bytes;
  _Atomic uint64_t head;
  _Atomic uint64_t tail;
  /* Datagrams the reading thread read but found no room for in the ring. */
  _Atomic uint64_t ring_drops;
} Reader;

static napi_value throw_errno(napi_env env, const char* syscall, int err, const char* where) {
  char msg[256];
  const char* code = uv_err_name(uv_translate_sys_error(err));
  snprintf(msg, sizeof msg, "%s %s%s%s", syscall, code, where ? " " : "", where ? where : "");
  napi_value m, c, e;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &e);
  napi_throw(env, e);
  return NULL;
}

static void put_address(uint8_t* out, const struct sockaddr_storage* s) {
  memset(out, 0, ADDR_BYTES);
  if (s->ss_family == AF_INET) {
    const struct sockaddr_in* a = (const struct sockaddr_in*)s;
    out[0] = 4;
    memcpy(out + 1, &a->sin_port, 2);
    memcpy(out + 4, &a->sin_addr, 4);
  } else if (s->ss_family == AF_INET6) {
    const struct sockaddr_in6* a = (const struct sockaddr_in6*)s;
    out[0] = 6;
    memcpy(out + 1, &a->sin6_port, 2);
    memcpy(out + 4, &a->sin6_addr, 16);
  }
}

static void stop(Reader* r);
static int set_slice(uint64_t ns);

static size_t rec_bytes(uint32_t stored) {
  return (REC_HEADER + (size_t)stored + 7) & ~(size_t)7;
}

/* Reading thread: appends one datagram, or counts it dropped when the ring has no room. */
static void ring_put(Reader* r, uint32_t len, const uint8_t* bytes, const struct sockaddr_storage* from) {
  uint32_t stored = len < r->slot_bytes ? len : r->slot_bytes;
  size_t need = rec_bytes(stored);
  uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
  size_t pos = (size_t)(head % r->ring_bytes);
  size_t to_end = r->ring_bytes - pos;
  size_t skip = to_end < need ? to_end : 0;
  if ((head - tail) + skip + need > r->ring_bytes) {
    atomic_fetch_add_explicit(&r->ring_drops, 1, memory_order_relaxed);
    return;
  }
  if (skip) {
    uint32_t w = WRAP;
    memcpy(r->ring + pos, &w, 4);
    head += skip;
    pos = 0;
  }
  uint8_t* p = r->ring + pos;
  memcpy(p, &len, 4);
  memcpy(p + 4, &stored, 4);
  put_address(p + 8, from);
  memcpy(p + REC_HEADER, bytes, stored);
  atomic_store_explicit(&r->head, head + need, memory_order_release);
}

static void* read_loop(void* arg) {
  Reader* r = (Reader*)arg;
  if (r->slice_ns) set_slice(r->slice_ns);
  struct pollfd p[2] = {{r->fd, POLLIN, 0}, {r->stop_fd, POLLIN, 0}};
  for (;;) {
    int pr = poll(p, 2, -1);
    if (pr < 0) {
      if (errno == EINTR) continue;
      break;
    }
    /* Asked to stop: what the socket holds is still read (close() hands it over), then no more. */
    int stopping = p[1].revents != 0;
    for (;;) {
      for (unsigned i = 0; i < r->t_slots; i++) {
        r->hdrs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
        r->hdrs[i].msg_hdr.msg_flags = 0;
        r->hdrs[i].msg_len = 0;
      }
      int n = recvmmsg(r->fd, r->hdrs, r->t_slots, MSG_DONTWAIT | MSG_TRUNC, NULL);
      if (n <= 0) break; /* EAGAIN (all read) or an error the next datagram will show again */
      for (int i = 0; i < n; i++) ring_put(r, r->hdrs[i].msg_len, r->t_data + (size_t)i * r->slot_bytes, &r->from[i]);
      uv_async_send(&r->wake);
      if ((unsigned)n < r->t_slots) break;
    }
    if (stopping) break;
    /* Lets datagrams gather before the next poll(): woken at once (its slice is short), the thread
       read a few datagrams per call and spent most of its time on the wake-ups. */
    struct timespec pace = {0, READ_PACE_NS};
    nanosleep(&pace, NULL);
  }
  return NULL;
}

/*
 * JavaScript thread: hands the ring's datagrams to the callback, `slots` at a time, for at most
 * `rounds` calls. Returns whether the ring still holds some (and the reader is not closed).
 */
static int deliver(Reader* r, int rounds) {
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, arg, res;
  napi_get_reference_value(env, r->callback, &cb);
  napi_get_global(env, &recv);
  for (int round = 0; round < rounds && !r->closed; round++) {
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    unsigned n = 0;
    while (n < r->slots && tail != head) {
      size_t pos = (size_t)(tail % r->ring_bytes);
      const uint8_t* p = r->ring + pos;
      uint32_t len, stored;
      memcpy(&len, p, 4);
      if (len == WRAP) {
        tail += r->ring_bytes - pos;
        continue;
      }
      memcpy(&stored, p + 4, 4);
      r->lens[n] = (int32_t)(len > INT32_MAX ? INT32_MAX : len);
      memcpy(r->addrs + (size_t)n * ADDR_BYTES, p + 8, ADDR_BYTES);
      memcpy(r->data + (size_t)n * r->slot_bytes, p + REC_HEADER, stored);
      tail += rec_bytes(stored);
      n++;
    }
    atomic_store_explicit(&r->tail, tail, memory_order_release);
    if (n == 0) break;
    napi_create_int32(env, (int32_t)n, &arg);
    if (napi_make_callback(env, r->async, recv, cb, 1, &arg, &res) != napi_ok) {
      /* The callback threw: it is reported as an uncaught exception; stop reading. */
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value exc;
        napi_get_and_clear_last_exception(env, &exc);
        napi_fatal_exception(env, exc);
      }
      stop(r);
      break;
    }
  }
  napi_close_handle_scope(env, scope);
  return !r->closed && atomic_load_explicit(&r->head, memory_order_acquire) != atomic_load_explicit(&r->tail, memory_order_relaxed);
}

static void on_wake(uv_async_t* handle) {
  Reader* r = (Reader*)handle->data;
  if (r->closed) return;
  /* Left in the ring after MAX_ROUNDS: the loop gets a turn (timers, messages), then this goes on. */
  if (deliver(r, MAX_ROUNDS)) uv_async_send(&r->wake);
}

static void free_reader(Reader* r) {
  free(r->hdrs);
  free(r->iovs);
  free(r->from);
  free(r->t_data);
  free(r->ring);
  free(r);
}

static void on_closed(uv_handle_t* handle) {
  Reader* r = (Reader*)handle->data;
  napi_async_cleanup_hook_handle hook = r->hook;
  free_reader(r);
  if (hook) napi_remove_async_cleanup_hook(hook);
}

/* Stops the reading thread (it has appended its last datagram when this returns) and closes the socket. */
static void stop_reading(Reader* r) {
  if (r->thread_started) {
    uint64_t one = 1;
    ssize_t w = write(r->stop_fd, &one, sizeof one);
    (void)w;
    pthread_join(r->thread, NULL);
    r->thread_started = 0;
  }
  if (r->stop_fd >= 0) close(r->stop_fd);
  r->stop_fd = -1;
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
}

/* Stops reading and delivering; the memory goes when libuv has closed the async handle. */
static void stop(Reader* r) {
  if (r->closed) return;
  r->closed = 1;
  stop_reading(r);
}

static void release(Reader* r) {
  napi_env env = r->env;
  if (r->callback) napi_delete_reference(env, r->callback);
  for (int i = 0; i < 3; i++)
    if (r->keep[i]) napi_delete_reference(env, r->keep[i]);
  r->callback = NULL;
  r->keep[0] = r->keep[1] = r->keep[2] = NULL;
  if (r->async) napi_async_destroy(env, r->async);
  r->async = NULL;
}

/* Stops, closes the socket, and frees everything once libuv has closed the async handle. */
static void shut(Reader* r) {
  if (r->handle_closing) return;
  r->handle_closing = 1;
  stop(r);
  release(r);
  uv_close((uv_handle_t*)&r->wake, on_closed);
}

/* The thread (or process) is ending without close() having been called. */
static void async_cleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  (void)handle;
  shut((Reader*)arg);
}

static void* typed_data(napi_env env, napi_value v, size_t* bytes) {
  bool is;
  napi_is_typedarray(env, v, &is);
  if (!is) return NULL;
  napi_typedarray_type type;
  size_t length, offset;
  void* data;
  napi_value ab;
  napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset);
  size_t el = type == napi_int32_array ? 4 : 1;
  *bytes = length * el;
  return data;
}

/* open(v6, host, port, recvBufferBytes, slotBytes, data, lens, addrs, callback, ringBytes, sliceNs) → reader */
static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value a[11];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 11) {
    napi_throw_type_error(env, NULL, "open: 11 arguments");
    return NULL;
  }
  int64_t ringBytes = 0, sliceNs = 0;
  napi_get_value_int64(env, a[9], &ringBytes);
  napi_get_value_int64(env, a[10], &sliceNs);
  bool v6;
  char host[64];
  size_t hostLen;
  int32_t port, rcvbuf, slotBytes;
  napi_get_value_bool(env, a[0], &v6);
  napi_get_value_string_utf8(env, a[1], host, sizeof host, &hostLen);
  napi_get_value_int32(env, a[2], &port);
  napi_get_value_int32(env, a[3], &rcvbuf);
  napi_get_value_int32(env, a[4], &slotBytes);
  size_t dataBytes = 0, lensBytes = 0, addrBytes = 0;
  uint8_t* data = typed_data(env, a[5], &dataBytes);
  int32_t* lens = typed_data(env, a[6], &lensBytes);
  uint8_t* addrs = typed_data(env, a[7], &addrBytes);
  if (!data || !lens || !addrs || slotBytes <= 0) {
    napi_throw_type_error(env, NULL, "open: bad buffers");
    return NULL;
  }
  unsigned slots = (unsigned)(dataBytes / (size_t)slotBytes);
  if (lensBytes / 4 < slots) slots = (unsigned)(lensBytes / 4);
  if (addrBytes / ADDR_BYTES < slots) slots = (unsigned)(addrBytes / ADDR_BYTES);
  if (slots == 0) {
    napi_throw_type_error(env, NULL, "open: no slots");
    return NULL;
  }
  if (sliceNs < 0) {
    napi_throw_type_error(env, NULL, "open: sliceNs >= 0");
    return NULL;
  }
  /* At least two of the largest datagrams, whatever was asked. */
  if (ringBytes < (int64_t)rec_bytes((uint32_t)slotBytes) * 2) ringBytes = (int64_t)rec_bytes((uint32_t)slotBytes) * 2;

  struct sockaddr_storage addr;
  socklen_t addrLen;
  memset(&addr, 0, sizeof addr);
  char where[96];
  snprintf(where, sizeof where, "%s:%d", host, port);
  if (v6) {
    struct sockaddr_in6* s = (struct sockaddr_in6*)&addr;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &s->sin6_addr) != 1) return throw_errno(env, "bind", EINVAL, where);
    addrLen = sizeof *s;
  } else {
    struct sockaddr_in* s = (struct sockaddr_in*)&addr;
    s->sin_family = AF_INET;
    s->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &s->sin_addr) != 1) return throw_errno(env, "bind", EINVAL, where);
    addrLen = sizeof *s;
  }
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno, NULL);
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "setsockopt", err, NULL);
  }
  if (bind(fd, (struct sockaddr*)&addr, addrLen) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err, where);
  }

  int stop_fd = eventfd(0, EFD_CLOEXEC);
  if (stop_fd < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "eventfd", err, NULL);
  }
  Reader* r = calloc(1, sizeof *r);
  if (!r) {
    close(fd);
    close(stop_fd);
    return throw_errno(env, "malloc", ENOMEM, NULL);
  }
  /* The reading thread's own slots: as many as the callback's, at most 64 (one recvmmsg call). */
  r->t_slots = slots < 64 ? slots : 64;
  r->hdrs = calloc(r->t_slots, sizeof *r->hdrs);
  r->iovs = calloc(r->t_slots, sizeof *r->iovs);
  r->from = calloc(r->t_slots, sizeof *r->from);
  r->t_data = malloc((size_t)r->t_slots * (size_t)slotBytes);
  r->ring_bytes = (size_t)ringBytes & ~(size_t)7;
  r->ring = malloc(r->ring_bytes);
  r->env = env;
  r->fd = fd;
  r->stop_fd = stop_fd;
  r->slice_ns = (uint64_t)sliceNs;
  r->slots = slots;
  r->slot_bytes = (unsigned)slotBytes;
  r->data = data;
  r->lens = lens;
  r->addrs = addrs;
  r->wake.data = r;
  atomic_init(&r->head, 0);
  atomic_init(&r->tail, 0);
  atomic_init(&r->ring_drops, 0);
  for (unsigned i = 0; i < r->t_slots; i++) {
    r->iovs[i].iov_base = r->t_data + (size_t)i * (size_t)slotBytes;
    r->iovs[i].iov_len = (size_t)slotBytes;
    r->hdrs[i].msg_hdr.msg_iov = &r->iovs[i];
    r->hdrs[i].msg_hdr.msg_iovlen = 1;
    r->hdrs[i].msg_hdr.msg_name = &r->from[i];
  }
  if (!r->hdrs || !r->iovs || !r->from || !r->t_data || !r->ring) {
    close(fd);
    close(stop_fd);
    free_reader(r);
    return throw_errno(env, "malloc", ENOMEM, NULL);
  }
  napi_create_reference(env, a[8], 1, &r->callback);
  for (int i = 0; i < 3; i++) napi_create_reference(env, a[5 + i], 1, &r->keep[i]);
  napi_value name;
  napi_create_string_utf8(env, "logsrv:udp-recvmmsg", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->async);

  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_async_init(loop, &r->wake, on_wake);
  if (rc != 0) {
    stop(r);
    release(r);
    free_reader(r);
    return throw_errno(env, "uv_async_init", -rc, NULL);
  }
  napi_add_async_cleanup_hook(env, async_cleanup, r, &r->hook);
  rc = pthread_create(&r->thread, NULL, read_loop, r);
  if (rc != 0) {
    shut(r);
    return throw_errno(env, "pthread_create", rc, NULL);
  }
  r->thread_started = 1;
  /* Named after the thread that opened it (logsrv-udp, logsrv-syslog) with "-r": at most 15 bytes. */
  char tname[16] = "";
  pthread_getname_np(pthread_self(), tname, sizeof tname);
  tname[13] = 0;
  char rname[16];
  snprintf(rname, sizeof rname, "%s-r", tname);
  pthread_setname_np(r->thread, rname);

  napi_value ext;
  napi_create_external(env, r, NULL, NULL, &ext);
  return ext;
}

static Reader* reader_of(napi_env env, napi_callback_info info, napi_value* rest, size_t nrest) {
  size_t argc = 1 + nrest;
  napi_value a[4];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  void* p = NULL;
  if (argc < 1 || napi_get_value_external(env, a[0], &p) != napi_ok) {
    napi_throw_type_error(env, NULL, "not a reader");
    return NULL;
  }
  for (size_t i = 0; i < nrest; i++) rest[i] = a[1 + i];
  return (Reader*)p;
}

/* localPort(reader) → the bound port */
static napi_value LocalPort(napi_env env, napi_callback_info info) {
  Reader* r = reader_of(env, info, NULL, 0);
  if (!r) return NULL;
  struct sockaddr_storage s;
  socklen_t len = sizeof s;
  if (r->closed || getsockname(r->fd, (struct sockaddr*)&s, &len) != 0) return throw_errno(env, "getsockname", r->closed ? EBADF : errno, NULL);
  uint16_t port = s.ss_family == AF_INET6 ? ((struct sockaddr_in6*)&s)->sin6_port : ((struct sockaddr_in*)&s)->sin_port;
  napi_value v;
  napi_create_int32(env, ntohs(port), &v);
  return v;
}

/* recvBufferSize(reader) → SO_RCVBUF as the kernel reports it (twice what it grants, on Linux) */
static napi_value RecvBufferSize(napi_env env, napi_callback_info info) {
  Reader* r = reader_of(env, info, NULL, 0);
  if (!r) return NULL;
  int size = 0;
  socklen_t len = sizeof size;
  if (r->closed || getsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &size, &len) != 0) return throw_errno(env, "getsockopt", r->closed ? EBADF : errno, NULL);
  napi_value v;
  napi_create_int32(env, size, &v);
  return v;
}

/*
 * close(reader): stops reading, closes the socket, hands what the ring still holds to the callback
 * (before this returns), and frees the reader; idempotent.
 */
static napi_value Close(napi_env env, napi_callback_info info) {
  Reader* r = reader_of(env, info, NULL, 0);
  if (!r) return NULL;
  if (!r->closed && !r->handle_closing) {
    stop_reading(r);
    while (deliver(r, MAX_ROUNDS)) {
    }
  }
  shut(r);
  return NULL;
}

/* formatAddress(addrs, slot) → the source address of a slot as text (inet_ntop) */
static napi_value FormatAddress(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  size_t bytes = 0;
  uint8_t* addrs = argc == 2 ? typed_data(env, a[0], &bytes) : NULL;
  int32_t slot = -1;
  if (argc == 2) napi_get_value_int32(env, a[1], &slot);
  if (!addrs || slot < 0 || (size_t)(slot + 1) * ADDR_BYTES > bytes) {
    napi_throw_type_error(env, NULL, "formatAddress: bad slot");
    return NULL;
  }
  const uint8_t* p = addrs + (size_t)slot * ADDR_BYTES;
  char text[INET6_ADDRSTRLEN] = "";
  if (p[0] == 4) inet_ntop(AF_INET, p + 4, text, sizeof text);
  else if (p[0] == 6) inet_ntop(AF_INET6, p + 4, text, sizeof text);
  napi_value v;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  return v;
}

/* The sched_attr of sched_setattr(2) (its first version, 48 bytes). */
struct logsrv_sched_attr {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
};

/* Asks for a time slice of `ns` for the calling thread, keeping its policy and nice value. */
static int set_slice(uint64_t ns) {
  struct logsrv_sched_attr attr;
  memset(&attr, 0, sizeof attr);
  if (syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) != 0) return 0;
  attr.size = sizeof attr;
  attr.sched_runtime = ns;
  return syscall(SYS_sched_setattr, 0, &attr, 0) == 0;
}

/* takeDrops(reader) → datagrams dropped because the ring was full since the last call */
static napi_value TakeDrops(napi_env env, napi_callback_info info) {
  Reader* r = reader_of(env, info, NULL, 0);
  if (!r) return NULL;
  napi_value v;
  napi_create_double(env, (double)atomic_exchange_explicit(&r->ring_drops, 0, memory_order_relaxed), &v);
  return v;
}
#endif

static napi_value Init(napi_env env, napi_value exports) {
  napi_value v;
#ifdef __linux__
  napi_get_boolean(env, true, &v);
  napi_set_named_property(env, exports, "supported", v);
  struct {
    const char* name;
    napi_callback fn;
  } fns[] = {{"open", Open}, {"localPort", LocalPort}, {"recvBufferSize", RecvBufferSize}, {"close", Close}, {"formatAddress", FormatAddress}, {"takeDrops", TakeDrops}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &v);
    napi_set_named_property(env, exports, fns[i].name, v);
  }
#else
  napi_get_boolean(env, false, &v);
  napi_set_named_property(env, exports, "supported", v);
#endif
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
