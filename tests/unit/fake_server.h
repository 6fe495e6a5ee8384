/* Starts one of the Python stand-ins of tests/servers (fake OpenSearch, fake
 * IMDS) for a C unit test: it listens on 127.0.0.1 on a port of its choice
 * and prints that port as its first line. */
#ifndef DOCMILL_TEST_FAKE_SERVER_H
#define DOCMILL_TEST_FAKE_SERVER_H

#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYSTEM_PYTHON
#define SYSTEM_PYTHON "/usr/bin/python3"
#endif

extern char **environ;

typedef struct fake_server {
    pid_t pid;
    char base[64];   /* http://127.0.0.1:PORT */
} fake_server;

static int fake_server_start(fake_server *s, const char *script)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *argv[] = {(char *)SYSTEM_PYTHON, (char *)script, NULL};
    int rc = posix_spawn(&s->pid, SYSTEM_PYTHON, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    FILE *f = fdopen(fds[0], "r");
    char line[64] = "";
    bool got = f && fgets(line, sizeof line, f);
    if (f)
        fclose(f);
    int port = got ? atoi(line) : 0;
    if (port <= 0)
        return -1;
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", port);
    return 0;
}

static void fake_server_stop(fake_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

#endif
