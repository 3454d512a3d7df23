/*
 * Test program for the io sensors: performs one write, send or connect
 * with a marker at a chosen offset, then prints one JSON line describing
 * what it did (pid, fd, path or addresses) for the live test to compare
 * with tokenward's event.
 *
 *   tw_io file SYSCALL PATH SIZE OFFSET
 *         SYSCALL: write pwrite64 writev pwritev pwritev2 split zero reopen
 *   tw_io sock KIND SYSCALL SIZE OFFSET
 *         KIND: tcp4 tcp6 udp4 udp6 unix-stream unix-dgram
 *         SYSCALL: write writev send sendto sendmsg sendmmsg
 *   tw_io chat KIND SIZE OFFSET PIECES CONNS GAP_US
 *         KIND: tcp4 tcp6 unix-stream. Each of CONNS connections sends the
 *         same SIZE-byte buffer (marker at OFFSET) in pieces whose sizes
 *         PIECES lists ("7", "40,40,3000": cycled), write() and send() by
 *         turns, the connections round-robin as an event loop would, with
 *         GAP_US microseconds between rounds. Prints pid, fds, local
 *         address of the first and the server's address. With
 *         TW_IO_VEC=1 each piece goes out in two iovecs, writev() and
 *         sendmsg() by turns.
 *   tw_io alternate KIND N GAP_US
 *         KIND: tcp4 tcp6 unix-stream. N connections in a row, each
 *         connect, one small write, close, GAP_US microseconds of sleep:
 *         to server A, then B, then A...
 *         Only the writes to B hold the marker. Sockets closed and opened
 *         this fast reuse the same kernel memory (file, inode, sock), so
 *         a monitor that keys anything on it must still tell them apart.
 *   tw_io connect KIND
 *   tw_io flood COUNT            COUNT small UDP sendto calls
 *   tw_io big                    one 1 GiB write to a unix stream socket
 *   tw_io vanish PATH            a 128 MiB pwrite() to PATH whose buffer another
 *                                thread unmaps midway: the write succeeds short,
 *                                and the buffer is gone when the exit
 *                                tracepoint reads it (retried until so)
 *
 * The marker comes from $TW_MARKER, not argv, so that exec events (which
 * print argv) never show it and tests can check it is never printed.
 * Vectored calls split the marker between two iovecs; "split" writes it
 * in two write() calls, half in each. "reopen" first writes to PATH.first,
 * closes it and opens PATH: the same fd, and usually the same recycled
 * struct file, now behind a different file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "tw_io: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* $TW_MARKER, or the first line of the file $TW_MARKER_FILE names: a
 * real token is kept out of the environment, which the exec sensor
 * captures too. */
static const char *get_marker(void)
{
	static char line[4096];
	const char *m = getenv("TW_MARKER"), *path = getenv("TW_MARKER_FILE");
	FILE *f;

	if (path && (f = fopen(path, "r"))) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
		line[strcspn(line, "\n")] = 0;
		return line;
	}
	return m ? m : "";
}

static unsigned char *make_buf(size_t size, size_t off, const char *marker)
{
	unsigned char *b = malloc(size ? size : 1);
	size_t n = strlen(marker);

	if (!b)
		die("malloc");
	for (size_t i = 0; i < size; i++) /* binary filler, NUL bytes included */
		b[i] = (unsigned char)(i * 7 + (i >> 8));
	if (off + n > size) {
		fprintf(stderr, "tw_io: marker does not fit\n");
		exit(2);
	}
	memcpy(b + off, marker, n);
	return b;
}

#define TW_IO_IOV_MAX 1024

/* iovecs: [0, cut) [cut, cut+1) [cut+1, size), cut mid-marker; the middle
 * one-byte iovec makes the marker span three segments. */
static int make_iov(struct iovec *iov, unsigned char *b, size_t size, size_t off, const char *m)
{
	size_t cut = off + strlen(m) / 2;
	const char *many = getenv("TW_IO_IOVS");

	if (many && atoi(many) > 3) {
		/* TW_IO_IOVS=N (at most TW_IO_IOV_MAX): N equal iovecs, the last
		 * taking the rest, so a marker deep in the buffer sits in a late
		 * one */
		int n = atoi(many) > TW_IO_IOV_MAX ? TW_IO_IOV_MAX : atoi(many);
		size_t each = size / n;

		for (int i = 0; i < n; i++)
			iov[i] = (struct iovec){ b + i * each, i == n - 1 ? size - i * each : each };
		return n;
	}

	iov[0] = (struct iovec){ b, cut };
	iov[1] = (struct iovec){ b + cut, 1 };
	iov[2] = (struct iovec){ b + cut + 1, size - cut - 1 };
	return 3;
}

static void write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0)
			die("write");
		p = (const char *)p + r;
		n -= r;
	}
}

static int do_file(int argc, char **argv)
{
	const char *sc, *path, *marker;
	size_t size, off;
	unsigned char *b;
	struct iovec iov[TW_IO_IOV_MAX];
	char real[4096];
	ssize_t r = 0;
	int fd;

	if (argc != 6)
		return 2;
	sc = argv[2];
	path = argv[3];
	size = strtoull(argv[4], NULL, 0);
	off = strtoull(argv[5], NULL, 0);
	marker = get_marker();
	b = make_buf(size, off, marker);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open");
	if (!strcmp(sc, "write"))
		r = write(fd, b, size);
	else if (!strcmp(sc, "pwrite64"))
		r = pwrite(fd, b, size, 0);
	else if (!strcmp(sc, "writev"))
		r = writev(fd, iov, make_iov(iov, b, size, off, marker));
	else if (!strcmp(sc, "pwritev"))
		r = pwritev(fd, iov, make_iov(iov, b, size, off, marker), 0);
	else if (!strcmp(sc, "pwritev2"))
		r = pwritev2(fd, iov, make_iov(iov, b, size, off, marker), 0, 0);
	else if (!strcmp(sc, "split")) {
		size_t cut = off + strlen(marker) / 2;
		write_all(fd, b, cut);
		r = write(fd, b + cut, size - cut);
		r = r < 0 ? r : (ssize_t)size;
	} else if (!strcmp(sc, "reopen")) {
		char first[4200];

		snprintf(first, sizeof(first), "%s.first", path);
		close(fd);
		if ((fd = open(first, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
			die("open");
		write_all(fd, (const unsigned char *)"first file\n", 11);
		close(fd);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
			die("open");
		r = write(fd, b, size);
	} else if (!strcmp(sc, "zero"))
		r = write(fd, b, 0) == 0 ? (ssize_t)size : -1;
	else
		return 2;
	if (r != (ssize_t)size)
		die("short write");
	if (!realpath(path, real))
		snprintf(real, sizeof(real), "%s", path);
	printf("{\"pid\":%d,\"fd\":%d,\"path\":\"%s\"}\n", getpid(), fd, real);
	close(fd);
	return 0;
}

struct kind {
	int family, type;
};

static int parse_kind(const char *k, struct kind *out)
{
	if (!strcmp(k, "tcp4")) *out = (struct kind){ AF_INET, SOCK_STREAM };
	else if (!strcmp(k, "tcp6")) *out = (struct kind){ AF_INET6, SOCK_STREAM };
	else if (!strcmp(k, "udp4")) *out = (struct kind){ AF_INET, SOCK_DGRAM };
	else if (!strcmp(k, "udp6")) *out = (struct kind){ AF_INET6, SOCK_DGRAM };
	else if (!strcmp(k, "unix-stream")) *out = (struct kind){ AF_UNIX, SOCK_STREAM };
	else if (!strcmp(k, "unix-dgram")) *out = (struct kind){ AF_UNIX, SOCK_DGRAM };
	else return -1;
	return 0;
}

/* Fill an address buffer with non-zero bytes before getsockname(): what
 * the kernel does not write (all of sun_path for an unnamed unix socket)
 * must never be printed, and a stale stack would hide it by luck. */
static void prefill(struct sockaddr_storage *ss)
{
	memset(ss, 'x', sizeof(*ss) - 1);
	((char *)ss)[sizeof(*ss) - 1] = 0;
}

/* LEN is the length getsockname() (or the caller) gave for SS: a unix
 * name is only the LEN - offsetof(sun_path) bytes the kernel wrote. An
 * unnamed socket has LEN == sizeof(sa_family_t) and prints "unix:"; an
 * abstract name starts with NUL and prints as "unix:@name", as tokenward
 * does. */
static void addr_str(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(s->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(s->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *s = (const void *)ss;
		size_t plen = len > offsetof(struct sockaddr_un, sun_path) ?
				      len - offsetof(struct sockaddr_un, sun_path) : 0;

		if (plen > sizeof(s->sun_path))
			plen = sizeof(s->sun_path);
		if (plen > 1 && !s->sun_path[0])
			snprintf(out, n, "unix:@%.*s", (int)strnlen(s->sun_path + 1, plen - 1), s->sun_path + 1);
		else if (plen && s->sun_path[0])
			snprintf(out, n, "unix:%.*s", (int)strnlen(s->sun_path, plen), s->sun_path);
		else
			snprintf(out, n, "unix:");
	} else {
		snprintf(out, n, "?");
	}
}

/* A bound server socket on loopback (or a unix path); its address in *sa. */
static int server(const struct kind *k, struct sockaddr_storage *sa, socklen_t *len)
{
	int s = socket(k->family, k->type, 0), one = 1;

	if (s < 0)
		die("socket");
	memset(sa, 0, sizeof(*sa));
	if (k->family == AF_INET) {
		struct sockaddr_in *a = (void *)sa;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	} else if (k->family == AF_INET6) {
		struct sockaddr_in6 *a = (void *)sa;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	} else {
		struct sockaddr_un *a = (void *)sa;
		char dir[] = "/tmp/tw-io.XXXXXX";
		if (!mkdtemp(dir))
			die("mkdtemp");
		a->sun_family = AF_UNIX;
		snprintf(a->sun_path, sizeof(a->sun_path), "%s/srv.sock", dir);
		*len = sizeof(*a);
	}
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)sa, *len))
		die("bind");
	if (k->type == SOCK_STREAM && listen(s, 4))
		die("listen");
	if (k->family != AF_UNIX && getsockname(s, (struct sockaddr *)sa, len))
		die("getsockname");
	return s;
}

static void *drain(void *arg)
{
	int fd = (int)(long)arg;
	char buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

static int do_sock(int argc, char **argv)
{
	struct sockaddr_storage srv, local, peer;
	socklen_t srvlen, len;
	const char *sc, *marker;
	struct kind k;
	size_t size, off;
	unsigned char *b;
	struct iovec iov[TW_IO_IOV_MAX];
	char ls[256], ps[256];
	int s, c, connected;
	ssize_t r = -1;
	pthread_t th;

	if (argc != 6 || parse_kind(argv[2], &k))
		return 2;
	sc = argv[3];
	size = strtoull(argv[4], NULL, 0);
	off = strtoull(argv[5], NULL, 0);
	marker = get_marker();
	b = make_buf(size, off, marker);
	s = server(&k, &srv, &srvlen);
	c = socket(k.family, k.type, 0);
	if (c < 0)
		die("socket");
	if (k.family == AF_UNIX && k.type == SOCK_DGRAM) {
		/* a bound client, so the peer has a name to report too */
		struct sockaddr_un me = { .sun_family = AF_UNIX };
		char cli[256];
		int n = snprintf(cli, sizeof(cli), "%s.cli", ((struct sockaddr_un *)&srv)->sun_path);
		if (n < 0 || (size_t)n >= sizeof(me.sun_path))
			die("client path too long");
		memcpy(me.sun_path, cli, n + 1);
		if (bind(c, (struct sockaddr *)&me, sizeof(me)))
			die("bind client");
	}
	/* Datagram sendto/sendmsg go unconnected, with the address in the call. */
	connected = !(k.type == SOCK_DGRAM && (!strcmp(sc, "sendto") || !strcmp(sc, "sendmsg")));
	if (connected && connect(c, (struct sockaddr *)&srv, srvlen))
		die("connect");
	if (k.type == SOCK_STREAM) {
		int a = accept(s, NULL, NULL);
		if (a < 0)
			die("accept");
		pthread_create(&th, NULL, drain, (void *)(long)a);
	} else {
		int sz = 4 << 20;
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (!strcmp(sc, "write"))
		r = write(c, b, size);
	else if (!strcmp(sc, "writev"))
		r = writev(c, iov, make_iov(iov, b, size, off, marker));
	else if (!strcmp(sc, "send"))
		r = send(c, b, size, 0);
	else if (!strcmp(sc, "sendto"))
		r = sendto(c, b, size, 0, connected ? NULL : (struct sockaddr *)&srv, connected ? 0 : srvlen);
	else if (!strcmp(sc, "sendmsg")) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = make_iov(iov, b, size, off, marker) };
		if (!connected) {
			m.msg_name = &srv;
			m.msg_namelen = srvlen;
		}
		r = sendmsg(c, &m, 0);
	} else if (!strcmp(sc, "sendmmsg")) {
		/* message 0 is filler; the marker is in message 1, across iovecs */
		static char filler[] = "first message, no marker here";
		struct iovec fi = { filler, sizeof(filler) - 1 };
		struct mmsghdr mm[2] = { 0 };
		mm[0].msg_hdr.msg_iov = &fi;
		mm[0].msg_hdr.msg_iovlen = 1;
		mm[1].msg_hdr.msg_iov = iov;
		mm[1].msg_hdr.msg_iovlen = make_iov(iov, b, size, off, marker);
		if (sendmmsg(c, mm, 2, 0) != 2)
			die("sendmmsg");
		r = mm[1].msg_len;
	} else
		return 2;
	if (r != (ssize_t)size)
		die("short send");
	len = sizeof(local);
	prefill(&local);
	getsockname(c, (struct sockaddr *)&local, &len);
	addr_str(&local, len, ls, sizeof(ls));
	addr_str(&srv, srvlen, ps, sizeof(ps));
	printf("{\"pid\":%d,\"fd\":%d,\"local\":\"%s\",\"peer\":\"%s\"}\n", getpid(), c, ls, ps);
	fflush(stdout);
	if (k.type == SOCK_STREAM) {
		shutdown(c, SHUT_WR);
		pthread_join(th, NULL);
	}
	(void)peer;
	if (k.family == AF_UNIX) {
		unlink(((struct sockaddr_un *)&srv)->sun_path);
		if (k.type == SOCK_DGRAM) {
			char cli[256];
			snprintf(cli, sizeof(cli), "%s.cli", ((struct sockaddr_un *)&srv)->sun_path);
			unlink(cli);
		}
		*strrchr(((struct sockaddr_un *)&srv)->sun_path, '/') = 0;
		rmdir(((struct sockaddr_un *)&srv)->sun_path);
	}
	return 0;
}

static int do_chat(int argc, char **argv)
{
	struct sockaddr_storage srv, local;
	socklen_t srvlen, len;
	size_t size, off, pieces[64], npieces = 0, pos[64] = { 0 };
	unsigned char *b;
	struct kind k;
	char ls[256], ps[256], *p, *save = NULL;
	int s, conns, fds[64], done = 0, gap;
	pthread_t th[64];

	if (argc != 8 || parse_kind(argv[2], &k) || k.type != SOCK_STREAM)
		return 2;
	size = strtoull(argv[3], NULL, 0);
	off = strtoull(argv[4], NULL, 0);
	for (p = strtok_r(argv[5], ",", &save); p && npieces < 64; p = strtok_r(NULL, ",", &save))
		if ((pieces[npieces++] = strtoull(p, NULL, 0)) == 0)
			return 2;
	conns = atoi(argv[6]);
	gap = atoi(argv[7]);
	if (!npieces || conns < 1 || conns > 64)
		return 2;
	b = make_buf(size, off, get_marker());
	s = server(&k, &srv, &srvlen);
	for (int i = 0; i < conns; i++) {
		int a;

		if ((fds[i] = socket(k.family, k.type, 0)) < 0)
			die("socket");
		if (connect(fds[i], (struct sockaddr *)&srv, srvlen))
			die("connect");
		if ((a = accept(s, NULL, NULL)) < 0)
			die("accept");
		pthread_create(&th[i], NULL, drain, (void *)(long)a);
	}
	for (size_t round = 0; done < conns; round++) {
		for (int i = 0; i < conns; i++) {
			size_t n = pieces[round % npieces];
			ssize_t r;

			if (pos[i] >= size)
				continue;
			if (n > size - pos[i])
				n = size - pos[i];
			if (getenv("TW_IO_VEC")) {
				struct iovec v[2] = { { b + pos[i], n / 2 }, { b + pos[i] + n / 2, n - n / 2 } };
				struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };

				r = round % 2 ? sendmsg(fds[i], &m, 0) : writev(fds[i], v, 2);
			} else {
				r = round % 2 ? send(fds[i], b + pos[i], n, 0) : write(fds[i], b + pos[i], n);
			}
			if (r < 0)
				die("send");
			pos[i] += r;
			if (pos[i] >= size)
				done++;
		}
		if (gap)
			usleep(gap);
	}
	len = sizeof(local);
	prefill(&local); /* an unnamed unix socket fills in only the family */
	getsockname(fds[0], (struct sockaddr *)&local, &len);
	addr_str(&local, len, ls, sizeof(ls));
	addr_str(&srv, srvlen, ps, sizeof(ps));
	printf("{\"pid\":%d,\"fds\":[", getpid());
	for (int i = 0; i < conns; i++)
		printf("%s%d", i ? "," : "", fds[i]);
	printf("],\"local\":\"%s\",\"peer\":\"%s\"}\n", ls, ps);
	fflush(stdout);
	for (int i = 0; i < conns; i++) {
		shutdown(fds[i], SHUT_WR);
		pthread_join(th[i], NULL);
	}
	if (k.family == AF_UNIX) {
		unlink(((struct sockaddr_un *)&srv)->sun_path);
		*strrchr(((struct sockaddr_un *)&srv)->sun_path, '/') = 0;
		rmdir(((struct sockaddr_un *)&srv)->sun_path);
	}
	return 0;
}

static int do_alternate(int argc, char **argv)
{
	struct sockaddr_storage sa[2];
	socklen_t salen[2];
	char pa[256], pb[256], msg[256];
	const char *marker = get_marker();
	struct kind k;
	int srv[2], n, gap;

	if (argc != 5 || parse_kind(argv[2], &k) || k.type != SOCK_STREAM)
		return 2;
	n = atoi(argv[3]);
	gap = atoi(argv[4]);
	for (int i = 0; i < 2; i++) {
		srv[i] = server(&k, &sa[i], &salen[i]);
		if (listen(srv[i], 4096)) /* never accepted: the backlog holds them */
			die("listen");
	}
	for (int i = 0; i < n; i++) {
		int b = i % 2, c = socket(k.family, k.type, 0), len;

		if (c < 0 || connect(c, (struct sockaddr *)&sa[b], salen[b]))
			die("connect");
		len = snprintf(msg, sizeof(msg), "GET /%d HTTP/1.1\r\nX-Tag: %s\r\n\r\n", i,
			       b ? marker : "none");
		write_all(c, msg, len);
		close(c);
		if (gap)
			usleep(gap);
	}
	addr_str(&sa[0], salen[0], pa, sizeof(pa));
	addr_str(&sa[1], salen[1], pb, sizeof(pb));
	printf("{\"pid\":%d,\"peer_a\":\"%s\",\"peer_b\":\"%s\"}\n", getpid(), pa, pb);
	fflush(stdout);
	for (int i = 0; i < 2 && k.family == AF_UNIX; i++) {
		unlink(((struct sockaddr_un *)&sa[i])->sun_path);
		*strrchr(((struct sockaddr_un *)&sa[i])->sun_path, '/') = 0;
		rmdir(((struct sockaddr_un *)&sa[i])->sun_path);
	}
	return 0;
}

static int do_connect(int argc, char **argv)
{
	struct sockaddr_storage srv, local;
	socklen_t srvlen, len = sizeof(local);
	char ls[256], ps[256];
	struct kind k;
	int s, c;

	if (argc != 3 || parse_kind(argv[2], &k))
		return 2;
	s = server(&k, &srv, &srvlen);
	c = socket(k.family, k.type, 0);
	if (connect(c, (struct sockaddr *)&srv, srvlen))
		die("connect");
	prefill(&local);
	getsockname(c, (struct sockaddr *)&local, &len);
	addr_str(&local, len, ls, sizeof(ls));
	addr_str(&srv, srvlen, ps, sizeof(ps));
	printf("{\"pid\":%d,\"fd\":%d,\"local\":\"%s\",\"peer\":\"%s\"}\n", getpid(), c, ls, ps);
	close(c);
	close(s);
	if (k.family == AF_UNIX) {
		unlink(((struct sockaddr_un *)&srv)->sun_path);
		*strrchr(((struct sockaddr_un *)&srv)->sun_path, '/') = 0;
		rmdir(((struct sockaddr_un *)&srv)->sun_path);
	}
	return 0;
}

static int do_flood(int argc, char **argv)
{
	struct sockaddr_storage srv;
	struct kind k = { AF_INET, SOCK_DGRAM };
	socklen_t srvlen;
	char msg[200];
	long n, sent = 0;
	int s, c;

	if (argc != 3)
		return 2;
	n = strtol(argv[2], NULL, 10);
	s = server(&k, &srv, &srvlen);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	memset(msg, 'f', sizeof(msg));
	for (long i = 0; i < n; i++)
		if (sendto(c, msg, sizeof(msg), 0, (struct sockaddr *)&srv, srvlen) == sizeof(msg))
			sent++;
	printf("{\"pid\":%d,\"sent\":%ld}\n", getpid(), sent);
	close(s);
	return sent == n ? 0 : 1;
}

static int do_big(int argc)
{
	size_t size = 1ull << 30;
	unsigned char *b;
	pthread_t th;
	int sv[2];
	size_t done = 0;

	if (argc != 2)
		return 2;
	/* untouched anonymous pages read as zeros and cost no memory */
	b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b == MAP_FAILED)
		die("mmap");
	memcpy(b + 100, get_marker(), strlen(get_marker()));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	pthread_create(&th, NULL, drain, (void *)(long)sv[1]);
	printf("{\"pid\":%d,\"fd\":%d}\n", getpid(), sv[0]);
	fflush(stdout);
	while (done < size) {
		ssize_t r = write(sv[0], b + done, size - done);
		if (r <= 0)
			die("write");
		done += r;
	}
	close(sv[0]);
	pthread_join(th, NULL);
	return 0;
}

struct vanish {
	unsigned char *buf;
	size_t size;
	volatile int started;
};

static void *unmapper(void *arg)
{
	struct vanish *v = arg;
	struct timespec ts = { 0, 3 * 1000 * 1000 };

	while (!v->started)
		;
	nanosleep(&ts, NULL);
	munmap(v->buf, v->size);
	return NULL;
}

static int do_vanish(int argc, char **argv)
{
	struct vanish v = { .size = 128u << 20 };
	ssize_t r = -1;
	int fd, tries;

	if (argc != 3)
		return 2;
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("open");
	for (tries = 1; tries <= 20; tries++) {
		pthread_t th;

		v.buf = mmap(NULL, v.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (v.buf == MAP_FAILED)
			die("mmap");
		memset(v.buf, 'v', v.size); /* resident: the copy takes no faults until the unmap */
		v.started = 0;
		pthread_create(&th, NULL, unmapper, &v);
		v.started = 1;
		/* pwrite: always copied by the kernel, never read back (file tails) */
		r = pwrite(fd, v.buf, v.size, 0);
		pthread_join(th, NULL);
		if (r > 0 && (size_t)r < v.size)
			break; /* short and successful: what we wanted */
		if (r == (ssize_t)v.size)
			munmap(v.buf, v.size); /* too fast: the unmap came after */
	}
	printf("{\"pid\":%d,\"fd\":%d,\"ret\":%zd,\"tries\":%d}\n", getpid(), fd, r, tries);
	return r > 0 && (size_t)r < v.size ? 0 : 1;
}

int main(int argc, char **argv)
{
	int r = 2;

	if (argc < 2)
		;
	else if (!strcmp(argv[1], "file"))
		r = do_file(argc, argv);
	else if (!strcmp(argv[1], "sock"))
		r = do_sock(argc, argv);
	else if (!strcmp(argv[1], "connect"))
		r = do_connect(argc, argv);
	else if (!strcmp(argv[1], "chat"))
		r = do_chat(argc, argv);
	else if (!strcmp(argv[1], "alternate"))
		r = do_alternate(argc, argv);
	else if (!strcmp(argv[1], "flood"))
		r = do_flood(argc, argv);
	else if (!strcmp(argv[1], "big"))
		r = do_big(argc);
	else if (!strcmp(argv[1], "vanish"))
		r = do_vanish(argc, argv);
	if (r == 2)
		fprintf(stderr, "usage: see the comment at the top of tests/progs/tw_io.c\n");
	return r;
}
