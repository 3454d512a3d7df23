/*
 * The leaking process of `make bench-revoke` (tools/bench-revoke.sh): for
 * each line read from standard input (a token, from the driver over a
 * pipe, so never in argv or the environment), append one log line holding
 * it to PATH with a single write(), and report when that write started.
 *
 *   leak_writer PATH
 *   leak_writer tcp:PORT     the same lines, each one write() on one TCP
 *                            connection to 127.0.0.1:PORT (a socket leak)
 *
 * Output, one line per input line, after the write returned:
 *   T0_REALTIME_NS T0_MONOTONIC_NS
 * taken just before write(). CLOCK_REALTIME is what the issuer's receiver
 * stamps too; the monotonic time is there for same-host diagnostics.
 * Nothing else is printed: the token is not echoed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PREFIX "INFO request to api failed; retrying with Authorization: Bearer "

static long long now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	char line[8192], buf[sizeof(line) + sizeof(PREFIX)];
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: leak_writer PATH < TOKENS\n");
		return 2;
	}
	if (!strncmp(argv[1], "tcp:", 4)) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1] + 4)) };

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			close(fd);
			fd = -1;
		}
	} else {
		fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		fprintf(stderr, "leak_writer: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		size_t n = strlen(line);
		long long t_real, t_mono;
		ssize_t w;

		if (!n || line[n - 1] != '\n') {
			fprintf(stderr, "leak_writer: line too long or unterminated\n");
			return 1;
		}
		memcpy(buf, PREFIX, sizeof(PREFIX) - 1);
		memcpy(buf + sizeof(PREFIX) - 1, line, n);
		n += sizeof(PREFIX) - 1;
		t_mono = now_ns(CLOCK_MONOTONIC);
		t_real = now_ns(CLOCK_REALTIME);
		w = write(fd, buf, n);
		if (w != (ssize_t)n) {
			fprintf(stderr, "leak_writer: write: %s\n", w < 0 ? strerror(errno) : "short");
			return 1;
		}
		explicit_bzero(buf, n);
		explicit_bzero(line, sizeof(line));
		printf("%lld %lld\n", t_real, t_mono);
	}
	close(fd);
	return 0;
}
