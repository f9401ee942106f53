// The descriptor calls Node has no API for: a socket bound but not yet listening (so the process
// that later listens on it is the one its peers see), the peer credentials of a connected socket
// (SO_PEERCRED), close-on-exec for a descriptor inherited at launch, and a plain pipe to hand to
// child processes.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, const char *call, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", call, strerror(err));
  napi_value msg, code, error;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, error, "errno", code);
  napi_throw(env, error);
  return NULL;
}

static int int_arg(napi_env env, napi_callback_info info, int32_t *out) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return -1;
  return napi_get_value_int32(env, argv[0], out) == napi_ok ? 0 : -1;
}

// bindSocket(path): a SOCK_STREAM socket bound to path, not listening, close-on-exec.
static napi_value bind_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct sockaddr_un addr;
  size_t len = 0;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], addr.sun_path, sizeof addr.sun_path, &len) != napi_ok)
    return throw_errno(env, "bindSocket", EINVAL);
  if (len == 0 || len >= sizeof addr.sun_path - 1) return throw_errno(env, "bindSocket", ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// peerCredentials(fd): { pid, uid, gid } of the process that listened (or connected) at the other end.
static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (int_arg(env, info, &fd) != 0) return throw_errno(env, "peerCredentials", EINVAL);
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return throw_errno(env, "getsockopt", errno);
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_int32(env, cred.pid, &v);
  napi_set_named_property(env, out, "pid", v);
  napi_create_uint32(env, cred.uid, &v);
  napi_set_named_property(env, out, "uid", v);
  napi_create_uint32(env, cred.gid, &v);
  napi_set_named_property(env, out, "gid", v);
  return out;
}

// setCloseOnExec(fd): so programs this process starts never inherit the descriptor.
static napi_value set_close_on_exec(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (int_arg(env, info, &fd) != 0) return throw_errno(env, "setCloseOnExec", EINVAL);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) return throw_errno(env, "fcntl", errno);
  return NULL;
}

// makePipe(): [readFd, writeFd], both close-on-exec (a child gets its copy through its stdio).
static napi_value make_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return throw_errno(env, "pipe2", errno);
  napi_value out, v;
  napi_create_array_with_length(env, 2, &out);
  napi_create_int32(env, fds[0], &v);
  napi_set_element(env, out, 0, v);
  napi_create_int32(env, fds[1], &v);
  napi_set_element(env, out, 1, v);
  return out;
}

// lockExclusive(fd): true once this process holds an exclusive flock on fd, false when another
// does. The kernel lets go when the process ends, however it ends.
static napi_value lock_exclusive(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (int_arg(env, info, &fd) != 0) return throw_errno(env, "lockExclusive", EINVAL);
  napi_value out;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    napi_get_boolean(env, true, &out);
    return out;
  }
  if (errno != EWOULDBLOCK) return throw_errno(env, "flock", errno);
  napi_get_boolean(env, false, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "bindSocket", NAPI_AUTO_LENGTH, bind_socket, NULL, &fn);
  napi_set_named_property(env, exports, "bindSocket", fn);
  napi_create_function(env, "peerCredentials", NAPI_AUTO_LENGTH, peer_credentials, NULL, &fn);
  napi_set_named_property(env, exports, "peerCredentials", fn);
  napi_create_function(env, "setCloseOnExec", NAPI_AUTO_LENGTH, set_close_on_exec, NULL, &fn);
  napi_set_named_property(env, exports, "setCloseOnExec", fn);
  napi_create_function(env, "makePipe", NAPI_AUTO_LENGTH, make_pipe, NULL, &fn);
  napi_set_named_property(env, exports, "makePipe", fn);
  napi_create_function(env, "lockExclusive", NAPI_AUTO_LENGTH, lock_exclusive, NULL, &fn);
  napi_set_named_property(env, exports, "lockExclusive", fn);
  return exports;
}
