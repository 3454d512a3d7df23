/* The log writer: N write() calls of one 200-byte line each to a file.
 * Prints the elapsed wall time in seconds. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 200000;
	char line[200];
	struct timespec a, b;
	int fd;

	if (argc < 2)
		return 2;
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 1;
	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		int k = snprintf(line, 24, "%ld level=info", i);
		line[k] = ' ';
		if (write(fd, line, sizeof(line)) != sizeof(line))
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	close(fd);
	printf("%.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
