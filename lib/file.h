/* file.h - files that hold secrets.
 *
 * A key or state file is never seen half-written and never readable by
 * others: it is written to a temporary file created with O_EXCL and mode
 * 0600 in the same directory, fsync'd, renamed over the target, and the
 * directory is fsync'd so the rename survives a crash (signify's rule).
 */
#ifndef ELK_FILE_H
#define ELK_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* 0 or -errno; on failure the target is untouched and no temporary file is
 * left behind. */
int elk_write_file_atomic(const char *path, const void *data, size_t len);

/* True when fd is a regular file that users other than its owner can read:
 * a private key sent there would leak. */
bool elk_fd_readable_by_others(int fd);

#endif
