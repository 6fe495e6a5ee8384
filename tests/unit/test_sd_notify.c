/* sd_notify: the datagram systemd reads, on a socket this test listens on. */
#include "check.h"
#include "ops/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void test_notify_reaches_the_socket(void)
{
    unsetenv("NOTIFY_SOCKET");
    CHECK_INT(sd_notify_send("READY=1"), 0);  /* not under systemd: nothing */

    /* A short path: sun_path holds 108 bytes. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/docmill-notify-%d.sock", (int)getpid());
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    CHECK_INT(sd_notify_send("READY=1\nSTATUS=processing jobs"), 1);
    char buf[128] = {0};
    CHECK(recv(fd, buf, sizeof buf - 1, 0) > 0);
    CHECK_STR(buf, "READY=1\nSTATUS=processing jobs");
    close(fd);
    unlink(path);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    CHECK_INT(sd_notify_send("READY=1"), -1);
    unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
    static const check_case cases[] = {
        {"READY=1 reaches $NOTIFY_SOCKET; no socket, no message", test_notify_reaches_the_socket},
        {NULL, NULL}};
    return check_run(cases);
}
