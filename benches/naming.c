/*
 * The file-system calls of three ways to put a small file under its name, timed alone (no network,
 * no threads): what pardl's nameless files (src/disk/part.rs) were measured with before they were
 * written. docs/benchmarks.md, "Per-link cost", quotes its figures.
 *
 *   gcc -O2 -o /tmp/naming benches/naming.c
 *   mkdir -p /var/tmp/naming && for way in 0 1 2; do d=$(mktemp -d /var/tmp/naming/XXXX);
 *       /tmp/naming $way "$d" 2000; done
 *
 * Ways: 0 create NAME and write it (curl); 1 look NAME up, create NAME.part, write, look NAME up
 * again, rename NAME.part to NAME (pardl before); 2 O_TMPFILE, write, linkat to NAME (pardl now).
 * Each writes COUNT files of 16 KiB into an empty DIR and prints its wall, user and system time.
 * Run each way into a fresh directory, and do not delete many files just before (on ext4 without a
 * journal, inodes freed in the last minute make creating files slow).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s WAY DIR COUNT\n", argv[0]);
        return 2;
    }
    int way = atoi(argv[1]), count = atoi(argv[3]);
    const char *dir = argv[2];
    static char data[16384];
    memset(data, 'x', sizeof data);
    char name[4096], part[4096 + 8], proc[64];
    struct stat st;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < count; i++) {
        snprintf(name, sizeof name, "%s/f%06d.bin", dir, i);
        int fd;
        if (way == 0) {
            fd = open(name, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
        } else if (way == 1) {
            snprintf(part, sizeof part, "%s.part", name);
            stat(name, &st);
            fd = open(part, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);
        } else {
            fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
        }
        if (fd < 0 || pwrite(fd, data, sizeof data, 0) != (ssize_t)sizeof data) {
            perror(name);
            return 1;
        }
        if (way == 1) {
            stat(name, &st);
            if (rename(part, name) != 0) {
                perror("rename");
                return 1;
            }
        } else if (way == 2) {
            snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
            if (linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) != 0) {
                perror("linkat");
                return 1;
            }
        }
        close(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("way %d: %d files, wall %.3f s, user %.3f s, sys %.3f s\n", way, count,
           (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9,
           seconds(usage.ru_utime), seconds(usage.ru_stime));
    return 0;
}
