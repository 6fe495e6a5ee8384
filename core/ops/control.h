/* control: the running worker's Unix control socket (the REPL, `docmill
 * reload`, `docmill health`). Never TCP: the socket file is mode 0600 and
 * every connection's peer uid (SO_PEERCRED) must be ours, so only the
 * user the worker runs as gets in.
 *
 * Wire format, both ways, one frame per request and per reply:
 *   request: "<length>\n<length bytes of Lua code>"
 *   reply:   "<status> <length>\n<length bytes of text>"
 * status is ok, error, incomplete (the code is a prefix of a valid chunk:
 * send more) or refused. The server side lives on a libuv loop and calls
 * the handler synchronously; the client side is plain blocking sockets. */
#ifndef DOCMILL_CONTROL_H
#define DOCMILL_CONTROL_H

#include "base/common.h"

#include <uv.h>

#define CONTROL_MAX_FRAME (1 << 20)

typedef enum { CONTROL_OK, CONTROL_ERROR, CONTROL_INCOMPLETE, CONTROL_REFUSED } control_status;

const char *control_status_name(control_status s);

typedef struct control_server control_server;

/* Evaluates one request of session `session` (one per connection, from 1)
 * and fills reply. */
typedef control_status (*control_handler)(void *ud, int session, const char *code, size_t len,
                                          sbuf *reply);
/* A session ended (the client went away): drop its state. May be NULL. */
typedef void (*control_session_end)(void *ud, int session);

/* Listens on path (a stale socket left by a dead process is replaced; a
 * live one, or a path that is not a socket, is an error). */
control_server *control_listen(uv_loop_t *loop, const char *path, control_handler handler,
                               control_session_end on_end, void *ud, dm_err *err);
/* Closes the listener and every connection, and removes the socket file. */
void control_close(control_server *s);

/* Client: connect to a worker's socket (fd >= 0, or -1 with err set), send
 * one request and read its reply. */
int control_connect(const char *path, dm_err *err);
int control_request(int fd, const char *code, size_t len, control_status *status, sbuf *reply,
                    dm_err *err);

/* The run directory: DOCMILL_RUN_DIR, else systemd's RUNTIME_DIRECTORY,
 * else $XDG_RUNTIME_DIR/docmill, else /tmp/docmill-UID. Created 0700 when
 * missing; it must be a directory owned by us that no one else can write. */
int control_run_dir(char *out, size_t outlen, bool create, dm_err *err);

#endif
