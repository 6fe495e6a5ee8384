#include "ops/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int pidfile_create(const char *path, dm_err *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        dm_err_set(err, true, "cannot open the pid file %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = "";
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
        dm_err_set(err, true, "another docmill (pid %ld) holds %s", strtol(buf, NULL, 10), path);
        return -1;
    }
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        dm_err_set(err, true, "cannot write the pid file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void pidfile_remove(const char *path, int fd)
{
    if (fd < 0)
        return;
    unlink(path);
    close(fd);
}

pid_t pidfile_read(const char *path, dm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        dm_err_set(err, true, "cannot read %s: %s%s", path, strerror(errno),
                   errno == ENOENT ? " (is `docmill run` running?)" : "");
        return -1;
    }
    char buf[32] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    /* The lock is free only when its owner is gone. */
    bool stale = flock(fd, LOCK_SH | LOCK_NB) == 0;
    close(fd);
    char *end;
    long pid = strtol(buf, &end, 10);
    if (pid <= 0 || (*end && *end != '\n')) {
        dm_err_set(err, true, "%s does not hold a pid", path);
        return -1;
    }
    if (stale || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
        dm_err_set(err, true, "%s names pid %ld, which is not running", path, pid);
        return -1;
    }
    return (pid_t)pid;
}
