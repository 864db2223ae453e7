/* A disk that fills up on demand, for tests: preloaded into a process (LD_PRELOAD), it makes
 * every write to a file whose path starts with $HPT_FULL_DISK_PATH fail with ENOSPC while the
 * file $HPT_FULL_DISK_TRIGGER exists, and lets everything else through. SQLite then reports
 * SQLITE_FULL ("database or disk is full") exactly as on a real full disk, in a real process,
 * with no option of the program under test involved.
 *
 * Wrapped: write, pwrite, pwrite64, writev, pwritev, pwritev64, pwritev2, fallocate,
 * fallocate64, posix_fallocate, posix_fallocate64, and ftruncate / ftruncate64 that would grow
 * the file. Every write fails, not only those that need a fresh block: a rewrite in place fails
 * too (as on a copy-on-write file system), so a full disk stays full for the test however the
 * store's files are laid out. Reads, shrinking and unlinking go through.
 *
 * HPT_FULL_DISK_PATH is compared with the path the kernel gives for the descriptor
 * (/proc/self/fd/N), so it must be canonical (no symlinks, no ".."). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* True when writes to fd must fail now. Leaves errno as it found it. */
static int Full(int fd) {
  const char* prefix = getenv("HPT_FULL_DISK_PATH");
  const char* trigger = getenv("HPT_FULL_DISK_TRIGGER");
  if (prefix == NULL || trigger == NULL || prefix[0] == '\0') return 0;
  const int saved = errno;
  int full = 0;
  struct stat st;
  if (stat(trigger, &st) == 0) {
    char link[64];
    char target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, target, sizeof target - 1);
    if (n > 0) {
      target[n] = '\0';
      full = strncmp(target, prefix, strlen(prefix)) == 0;
    }
  }
  errno = saved;
  return full;
}

/* Growing fd to `length` bytes. */
static int Grows(int fd, off_t length) {
  const int saved = errno;
  struct stat st;
  const int grows = fstat(fd, &st) == 0 && length > st.st_size;
  errno = saved;
  return grows;
}

static void* Next(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == NULL) {
    fprintf(stderr, "full_disk: no %s to wrap\n", name);
    abort();
  }
  return f;
}

/* The wrapped function's signature, and a pointer to the next definition of it. */
#define NEXT(name, ret, ...)                                  \
  static ret (*next_##name)(__VA_ARGS__);                     \
  if (next_##name == NULL) next_##name = (ret (*)(__VA_ARGS__))Next(#name)

#define REFUSE(fd, failed)       \
  do {                           \
    if (Full(fd)) {              \
      errno = ENOSPC;            \
      return failed;             \
    }                            \
  } while (0)

ssize_t write(int fd, const void* buf, size_t n) {
  NEXT(write, ssize_t, int, const void*, size_t);
  REFUSE(fd, -1);
  return next_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  NEXT(pwrite, ssize_t, int, const void*, size_t, off_t);
  REFUSE(fd, -1);
  return next_pwrite(fd, buf, n, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t offset) {
  NEXT(pwrite64, ssize_t, int, const void*, size_t, off64_t);
  REFUSE(fd, -1);
  return next_pwrite64(fd, buf, n, offset);
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  NEXT(writev, ssize_t, int, const struct iovec*, int);
  REFUSE(fd, -1);
  return next_writev(fd, iov, count);
}

ssize_t pwritev(int fd, const struct iovec* iov, int count, off_t offset) {
  NEXT(pwritev, ssize_t, int, const struct iovec*, int, off_t);
  REFUSE(fd, -1);
  return next_pwritev(fd, iov, count, offset);
}

ssize_t pwritev64(int fd, const struct iovec* iov, int count, off64_t offset) {
  NEXT(pwritev64, ssize_t, int, const struct iovec*, int, off64_t);
  REFUSE(fd, -1);
  return next_pwritev64(fd, iov, count, offset);
}

ssize_t pwritev2(int fd, const struct iovec* iov, int count, off_t offset, int flags) {
  NEXT(pwritev2, ssize_t, int, const struct iovec*, int, off_t, int);
  REFUSE(fd, -1);
  return next_pwritev2(fd, iov, count, offset, flags);
}

int fallocate(int fd, int mode, off_t offset, off_t length) {
  NEXT(fallocate, int, int, int, off_t, off_t);
  REFUSE(fd, -1);
  return next_fallocate(fd, mode, offset, length);
}

int fallocate64(int fd, int mode, off64_t offset, off64_t length) {
  NEXT(fallocate64, int, int, int, off64_t, off64_t);
  REFUSE(fd, -1);
  return next_fallocate64(fd, mode, offset, length);
}

/* posix_fallocate returns the error instead of setting errno. */
int posix_fallocate(int fd, off_t offset, off_t length) {
  NEXT(posix_fallocate, int, int, off_t, off_t);
  if (Full(fd)) return ENOSPC;
  return next_posix_fallocate(fd, offset, length);
}

int posix_fallocate64(int fd, off64_t offset, off64_t length) {
  NEXT(posix_fallocate64, int, int, off64_t, off64_t);
  if (Full(fd)) return ENOSPC;
  return next_posix_fallocate64(fd, offset, length);
}

int ftruncate(int fd, off_t length) {
  NEXT(ftruncate, int, int, off_t);
  if (Grows(fd, length)) REFUSE(fd, -1);
  return next_ftruncate(fd, length);
}

int ftruncate64(int fd, off64_t length) {
  NEXT(ftruncate64, int, int, off64_t);
  if (Grows(fd, length)) REFUSE(fd, -1);
  return next_ftruncate64(fd, length);
}
