/*
 * The UDP receive socket of logsrv's UDP receive thread, read many datagrams per system call
 * (Linux recvmmsg) and handed to JavaScript once per call instead of once per datagram.
 *
 * JavaScript owns the memory: one buffer of `slots` slots of `slotBytes` bytes each, a length
 * per slot (Int32Array; the datagram's real length, which exceeds slotBytes when it was cut) and
 * the source address per slot (Uint8Array, 20 bytes: family 4 or 6, port (2 bytes, big endian),
 * one byte unused, then 16 bytes of address). When the socket is readable the callback gets the
 * number of slots filled; it must use them before it returns, as the next call reuses them.
 *
 * Off Linux the module loads but `supported` is false, and logsrv reads with node:dgram.
 *
 * It also lets the receive thread ask the kernel for a short time slice (`setSliceNs`, see
 * RECEIVE_SLICE_NS in src/ingest/udp-worker.ts): glibc has no wrapper for sched_setattr.
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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#define ADDR_BYTES 20
/* recvmmsg calls per readable event before the loop gets a turn (timers, messages, close). */
#define MAX_ROUNDS 16

typedef struct Reader {
  napi_env env;
  int fd;
  int closed;
  uv_poll_t poll;
  int polling;
  unsigned slots;
  unsigned slot_bytes;
  uint8_t* data;
  int32_t* lens;
  uint8_t* addrs;
  struct mmsghdr* hdrs;
  struct iovec* iovs;
  struct sockaddr_storage* from;
  napi_ref callback;
  napi_ref keep[3];
  napi_async_context async;
  /* Keeps the thread's teardown waiting until libuv has closed the poll handle (whose close
     callback lives in this library, which teardown unloads). */
  napi_async_cleanup_hook_handle hook;
  int handle_closing;
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

static void on_readable(uv_poll_t* handle, int status, int events) {
  Reader* r = (Reader*)handle->data;
  (void)events;
  if (r->closed || status < 0) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, arg, res;
  napi_get_reference_value(env, r->callback, &cb);
  napi_get_global(env, &recv);
  for (int round = 0; round < MAX_ROUNDS && !r->closed; round++) {
    for (unsigned i = 0; i < r->slots; i++) {
      r->hdrs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      r->hdrs[i].msg_hdr.msg_flags = 0;
      r->hdrs[i].msg_len = 0;
    }
    int n = recvmmsg(r->fd, r->hdrs, r->slots, MSG_DONTWAIT | MSG_TRUNC, NULL);
    if (n <= 0) break; /* EAGAIN (all read) or an error the next datagram will show again */
    for (int i = 0; i < n; i++) {
      r->lens[i] = (int32_t)r->hdrs[i].msg_len;
      put_address(r->addrs + (size_t)i * ADDR_BYTES, &r->from[i]);
    }
    napi_create_int32(env, n, &arg);
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
    if ((unsigned)n < r->slots) break;
  }
  napi_close_handle_scope(env, scope);
}

static void free_reader(Reader* r) {
  free(r->hdrs);
  free(r->iovs);
  free(r->from);
  free(r);
}

static void on_closed(uv_handle_t* handle) {
  Reader* r = (Reader*)handle->data;
  napi_async_cleanup_hook_handle hook = r->hook;
  free_reader(r);
  if (hook) napi_remove_async_cleanup_hook(hook);
}

/* Stops reading and closes the socket; the memory goes when libuv has closed the poll handle. */
static void stop(Reader* r) {
  if (r->closed) return;
  r->closed = 1;
  if (r->polling) uv_poll_stop(&r->poll);
  close(r->fd);
  r->fd = -1;
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

/* Stops, closes the socket, and frees everything once libuv has closed the poll handle. */
static void shut(Reader* r) {
  if (r->handle_closing) return;
  r->handle_closing = 1;
  stop(r);
  release(r);
  uv_close((uv_handle_t*)&r->poll, on_closed);
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

/* open(v6, host, port, recvBufferBytes, slotBytes, data, lens, addrs, callback) → reader */
static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value a[9];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 9) {
    napi_throw_type_error(env, NULL, "open: 9 arguments");
    return NULL;
  }
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

  Reader* r = calloc(1, sizeof *r);
  r->hdrs = calloc(slots, sizeof *r->hdrs);
  r->iovs = calloc(slots, sizeof *r->iovs);
  r->from = calloc(slots, sizeof *r->from);
  r->env = env;
  r->fd = fd;
  r->slots = slots;
  r->slot_bytes = (unsigned)slotBytes;
  r->data = data;
  r->lens = lens;
  r->addrs = addrs;
  r->poll.data = r;
  for (unsigned i = 0; i < slots; i++) {
    r->iovs[i].iov_base = data + (size_t)i * (size_t)slotBytes;
    r->iovs[i].iov_len = (size_t)slotBytes;
    r->hdrs[i].msg_hdr.msg_iov = &r->iovs[i];
    r->hdrs[i].msg_hdr.msg_iovlen = 1;
    r->hdrs[i].msg_hdr.msg_name = &r->from[i];
  }
  napi_create_reference(env, a[8], 1, &r->callback);
  for (int i = 0; i < 3; i++) napi_create_reference(env, a[5 + i], 1, &r->keep[i]);
  napi_value name;
  napi_create_string_utf8(env, "logsrv:udp-recvmmsg", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->async);

  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc != 0) {
    stop(r);
    release(r);
    free_reader(r);
    return throw_errno(env, "uv_poll_init", -rc, NULL);
  }
  r->polling = 1;
  napi_add_async_cleanup_hook(env, async_cleanup, r, &r->hook);
  rc = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    shut(r);
    return throw_errno(env, "uv_poll_start", -rc, NULL);
  }

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

/* close(reader): stops reading and closes the socket at once; idempotent. */
static napi_value Close(napi_env env, napi_callback_info info) {
  Reader* r = reader_of(env, info, NULL, 0);
  if (!r) return NULL;
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

/* setSliceNs(ns) → whether the calling thread now asks for a time slice of `ns` (Linux ≥ 6.12, EEVDF:
   a shorter slice gets an earlier virtual deadline, so the thread runs sooner once woken; its share of
   the CPU is unchanged). Policy and nice value are kept. False where the call fails. */
static napi_value SetSliceNs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  int64_t ns = 0;
  if (argc < 1 || napi_get_value_int64(env, a[0], &ns) != napi_ok || ns < 0) {
    napi_throw_type_error(env, NULL, "setSliceNs: ns must be a number >= 0");
    return NULL;
  }
  struct logsrv_sched_attr attr;
  memset(&attr, 0, sizeof attr);
  int ok = syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) == 0;
  if (ok) {
    attr.size = sizeof attr;
    attr.sched_runtime = (uint64_t)ns;
    ok = syscall(SYS_sched_setattr, 0, &attr, 0) == 0;
  }
  napi_value v;
  napi_get_boolean(env, ok, &v);
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
  } fns[] = {{"open", Open}, {"localPort", LocalPort}, {"recvBufferSize", RecvBufferSize}, {"close", Close}, {"formatAddress", FormatAddress}, {"setSliceNs", SetSliceNs}};
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
