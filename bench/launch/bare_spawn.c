// The floor for trial launches: start COUNT copies of a command, PARALLEL at a time, and wait for
// each, with nothing else around it. bench/launch/run.py runs it beside `hpt run` on the same
// command in the same run, so that hpt's launch rate is reported as a ratio to this.
//
//   hpt-bare-spawn --mode posix_spawn|clone_vfork|fork --count N --parallel P -- PROGRAM [ARGS...]
//
// posix_spawn: glibc's (CLONE_VFORK), with POSIX_SPAWN_SETSID and stdout/stderr on /dev/null.
// clone_vfork: what hpt's worker does per trial: clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD), and
//   in the child setsid, prctl(PR_SET_PDEATHSIG), dup2 of 0-2, close_range, execve.
// fork: fork + the same child steps, from this (small) process.
// Prints one JSON line: mode, count, parallel, wall_s, per_s, failures.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

struct Plan {
  char** argv;
  int null_fd;
  pid_t parent;
};

static int Child(void* arg) {
  const struct Plan* plan = arg;
  if (setsid() < 0) return 126;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return 126;
  if (getppid() != plan->parent) return 126;
  if (dup2(plan->null_fd, 0) < 0 || dup2(plan->null_fd, 1) < 0 || dup2(plan->null_fd, 2) < 0) return 126;
  close_range(3, ~0U, 0);
  execve(plan->argv[0], plan->argv, environ);
  return 127;
}

static double Now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void Usage(void) {
  fprintf(stderr, "usage: hpt-bare-spawn --mode posix_spawn|clone_vfork|fork --count N --parallel P -- PROGRAM [ARGS...]\n");
  exit(2);
}

int main(int argc, char** argv) {
  const char* mode = "posix_spawn";
  long count = 1000, parallel = 4;
  int i = 1;
  for (; i < argc; ++i) {
    if (strcmp(argv[i], "--") == 0) {
      ++i;
      break;
    }
    if (i + 1 >= argc) Usage();
    char* end = NULL;
    if (strcmp(argv[i], "--mode") == 0) {
      mode = argv[++i];
    } else if (strcmp(argv[i], "--count") == 0) {
      count = strtol(argv[++i], &end, 10);
      if (*end != '\0' || count < 1) {
        fprintf(stderr, "hpt-bare-spawn: --count must be a positive integer, got '%s'\n", argv[i]);
        return 2;
      }
    } else if (strcmp(argv[i], "--parallel") == 0) {
      parallel = strtol(argv[++i], &end, 10);
      if (*end != '\0' || parallel < 1) {
        fprintf(stderr, "hpt-bare-spawn: --parallel must be a positive integer, got '%s'\n", argv[i]);
        return 2;
      }
    } else {
      fprintf(stderr, "hpt-bare-spawn: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  if (i >= argc || argv[i][0] != '/') {
    fprintf(stderr, "hpt-bare-spawn: give the program as an absolute path after --\n");
    return 2;
  }
  int use_spawn = strcmp(mode, "posix_spawn") == 0, use_clone = strcmp(mode, "clone_vfork") == 0,
      use_fork = strcmp(mode, "fork") == 0;
  if (!use_spawn && !use_clone && !use_fork) {
    fprintf(stderr, "hpt-bare-spawn: --mode must be posix_spawn, clone_vfork or fork, got '%s'\n", mode);
    return 2;
  }
  struct Plan plan = {argv + i, open("/dev/null", O_RDWR | O_CLOEXEC), getpid()};
  size_t stack_size = 64 * 1024;
  char* stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (plan.null_fd < 0 || stack == MAP_FAILED) {
    perror("hpt-bare-spawn");
    return 1;
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, plan.null_fd, 0);
  posix_spawn_file_actions_adddup2(&actions, plan.null_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, plan.null_fd, 2);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);

  long started = 0, running = 0, failures = 0;
  double begin = Now();
  while (started < count || running > 0) {
    while (started < count && running < parallel) {
      pid_t pid = -1;
      if (use_spawn) {
        int rc = posix_spawn(&pid, plan.argv[0], &actions, &attr, plan.argv, environ);
        if (rc != 0) pid = -1;
      } else if (use_clone) {
        int pidfd = -1;
        pid = clone(Child, stack + stack_size, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &plan, &pidfd);
        if (pidfd >= 0) close(pidfd);
      } else {
        pid = fork();
        if (pid == 0) _exit(Child(&plan));
      }
      if (pid < 0) {
        perror("hpt-bare-spawn: start");
        return 1;
      }
      ++started;
      ++running;
    }
    int status = 0;
    if (wait(&status) > 0) {
      --running;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
    }
  }
  double wall = Now() - begin;
  printf("{\"mode\": \"%s\", \"count\": %ld, \"parallel\": %ld, \"wall_s\": %.4f, \"per_s\": %.1f, \"failures\": %ld}\n",
         mode, count, parallel, wall, (double)count / wall, failures);
  return failures == 0 ? 0 : 1;
}
