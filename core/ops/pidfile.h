/* pidfile: `docmill run --pid-file PATH` (default RUN_DIR/docmill.pid) for
 * `docmill reload` and systemd's PIDFile=. The file stays locked (flock)
 * while the process lives, so a second worker refuses to take it over and
 * a file left by a dead process is recognised as stale. */
#ifndef DOCMILL_PIDFILE_H
#define DOCMILL_PIDFILE_H

#include "base/common.h"

#include <sys/types.h>

/* Creates (or takes over a stale) pid file, locked until pidfile_remove or
 * the process exits. Returns the open descriptor or -1. */
int pidfile_create(const char *path, dm_err *err);
void pidfile_remove(const char *path, int fd);
/* The pid of the live process holding path; -1 with err when the file is
 * missing, unreadable, or left by a process that is gone. */
pid_t pidfile_read(const char *path, dm_err *err);

#endif
