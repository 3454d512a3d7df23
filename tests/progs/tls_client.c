/*
 * A TLS client on the system OpenSSL for the live TLS tests: connects to
 * 127.0.0.1:PORT, sends one HTTP/1.1 request whose extra header line comes
 * from $TW_HEADER (never argv, which exec events print), reads the answer
 * and exits 0 when the server answered.
 *
 *   tls_client PORT MODE
 *     MODE send:     OpenSSL's own socket BIO (write()/send() inside SSL_write)
 *     MODE sendmmsg: a BIO whose write is one sendmmsg() of one message, as a
 *                    batching TLS stack does: the plaintext behind it must
 *                    still be captured (issue 14)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

static int mmsg_write(BIO *b, const char *buf, int len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = (size_t)len };
	struct mmsghdr mh;
	int r;

	memset(&mh, 0, sizeof(mh));
	mh.msg_hdr.msg_iov = &iov;
	mh.msg_hdr.msg_iovlen = 1;
	r = sendmmsg(BIO_get_fd(BIO_next(b), NULL), &mh, 1, 0);
	return r == 1 ? (int)mh.msg_len : -1;
}

static long mmsg_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	(void)ptr;
	(void)b;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/* A filter BIO over the socket BIO: writes go out by sendmmsg. */
static BIO *mmsg_bio(int fd)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "sendmmsg");
	BIO *f, *s;

	if (!m)
		return NULL;
	BIO_meth_set_write(m, mmsg_write);
	BIO_meth_set_ctrl(m, mmsg_ctrl);
	f = BIO_new(m);
	s = BIO_new_socket(fd, BIO_NOCLOSE);
	if (!f || !s)
		return NULL;
	BIO_set_init(f, 1);
	return BIO_push(f, s);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *hdr = getenv("TW_HEADER");
	char req[4096], resp[256];
	SSL_CTX *ctx;
	SSL *ssl;
	int fd, n;

	if (argc != 3) {
		fprintf(stderr, "usage: tls_client PORT send|sendmmsg\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		return 1;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	ssl = ctx ? SSL_new(ctx) : NULL;
	if (!ssl)
		return 1;
	SSL_set_tlsext_host_name(ssl, "api.tokenward.test");
	if (!strcmp(argv[2], "sendmmsg")) {
		BIO *w = mmsg_bio(fd), *r = BIO_new_socket(fd, BIO_NOCLOSE);

		if (!w || !r)
			return 1;
		SSL_set_bio(ssl, r, w);
	} else {
		SSL_set_fd(ssl, fd);
	}
	if (SSL_connect(ssl) != 1) {
		fprintf(stderr, "TLS handshake failed\n");
		return 1;
	}
	n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: api.tokenward.test\r\n%s\r\n\r\n",
		     hdr ? hdr : "X-None: 1");
	if (n <= 0 || (size_t)n >= sizeof(req) || SSL_write(ssl, req, n) != n) {
		fprintf(stderr, "SSL_write failed\n");
		return 1;
	}
	n = SSL_read(ssl, resp, sizeof(resp) - 1);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return n > 0 ? 0 : 1;
}
