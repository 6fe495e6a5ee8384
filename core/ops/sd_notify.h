/* sd_notify: readiness, reload and stop notices to systemd (Type=notify),
 * by the protocol systemd documents as stable for reimplementation: one
 * datagram of "KEY=VALUE" lines to the socket named by $NOTIFY_SOCKET. A
 * no-op when that variable is unset (not started by systemd). */
#ifndef DOCMILL_SD_NOTIFY_H
#define DOCMILL_SD_NOTIFY_H

#include "base/common.h"

/* Returns 1 when sent, 0 when there is no socket, -1 on error. */
int sd_notify_send(const char *state);

#endif
