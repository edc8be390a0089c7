/* file.c - atomic, private writes of secret files. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int elk_write_file_atomic(const char *path, const void *data, size_t len)
{
	char *tmp, *dircopy;
	int fd, dfd, r;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return -ENOMEM;
	/* mkstemp opens with O_EXCL and mode 0600. */
	fd = mkstemp(tmp);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	if ((r = write_all(fd, data, len)) == 0 && fchmod(fd, 0600) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r) {
		unlink(tmp);
		free(tmp);
		return r;
	}
	free(tmp);
	dircopy = strdup(path);
	if (!dircopy)
		return -ENOMEM;
	dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dircopy);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

bool elk_fd_readable_by_others(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0044);
}
