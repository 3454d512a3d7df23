/* The bulk workload: N write()s of 1 MiB to a file, or N send()s of 1 MiB
 * over loopback TCP to a child that reads and discards them.
 *   bulk file PATH N     bulk send N
 * Prints the elapsed wall time in seconds (for send: until the reader has
 * taken the last byte). The buffer is log-like text without tokens, so
 * the detector does the work it does on a real bulk write. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BULK (1u << 20)

static void fill(char *buf)
{
	size_t off = 0;

	for (unsigned i = 0; off < BULK; i++) {
		char line[160];
		int k = snprintf(line, sizeof(line),
				 "2026-12-02T10:%02u:%02u.%03uZ INFO worker-%u job=%08x done in %u ms "
				 "status=ok bytes=%u path=/srv/data/part-%05u.bin\n",
				 i % 60, i * 7 % 60, i % 1000, i % 16, i * 2654435761u, i % 997,
				 i * 31 % 100000, i);
		size_t n = (size_t)k < BULK - off ? (size_t)k : BULK - off;
		memcpy(buf + off, line, n);
		off += n;
	}
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int bulk_file(const char *path, long n, const char *buf)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return 1;
	for (long i = 0; i < n; i++)
		if (write(fd, buf, BULK) != BULK)
			return 1;
	return close(fd) ? 1 : 0;
}

/* A child drains the connection; the parent's time ends when it exits. */
static int bulk_send(long n, const char *buf)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0), s, st;
	pid_t pid;

	if (ls < 0 || bind(ls, (void *)&a, sizeof(a)) || listen(ls, 1) ||
	    getsockname(ls, (void *)&a, &al))
		return 1;
	if ((pid = fork()) == 0) {
		static char sink[1 << 16];
		int c = accept(ls, NULL, NULL);

		while (c >= 0 && read(c, sink, sizeof(sink)) > 0)
			;
		_exit(c < 0);
	}
	close(ls);
	if (pid < 0 || (s = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(s, (void *)&a, sizeof(a)))
		return 1;
	for (long i = 0; i < n; i++)
		if (send(s, buf, BULK, 0) != BULK)
			return 1;
	close(s);
	return waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
	char *buf = malloc(BULK);
	int file = argc == 4 && !strcmp(argv[1], "file"), send = argc == 3 && !strcmp(argv[1], "send");
	double t0;
	int r;

	if (!buf || (!file && !send)) {
		fprintf(stderr, "usage: bulk file PATH N | bulk send N\n");
		return 2;
	}
	fill(buf);
	t0 = now();
	r = file ? bulk_file(argv[2], atol(argv[3]), buf) : bulk_send(atol(argv[2]), buf);
	if (r)
		return 1;
	printf("%.6f\n", now() - t0);
	return 0;
}
