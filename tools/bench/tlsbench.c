/*
 * The TLS benchmark's client (tools/bench-tls.sh): connects to
 * 127.0.0.1:PORT, completes a handshake, then makes N writes of 200 bytes
 * through the library's own write function and prints the CPU seconds
 * (user + system) the loop took: what the probes and their programs cost
 * the writer, which waiting for a busy machine's other CPU does not blur.
 *   tlsbench openssl|gnutls PORT N
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <openssl/ssl.h>

static double now_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int run_openssl(int fd, long n, const char *line)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	double t0;

	if (!ssl || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1)
		return 1;
	t0 = now_s();
	for (long i = 0; i < n; i++)
		if (SSL_write(ssl, line, 200) != 200)
			return 1;
	printf("%.4f\n", now_s() - t0);
	SSL_shutdown(ssl);
	return 0;
}

static int run_gnutls(int fd, long n, const char *line)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	double t0;
	int r;

	if (gnutls_certificate_allocate_credentials(&cred) || gnutls_init(&s, GNUTLS_CLIENT) ||
	    gnutls_set_default_priority(s) ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred))
		return 1;
	gnutls_transport_set_int(s, fd);
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0)
		return 1;
	t0 = now_s();
	for (long i = 0; i < n; i++)
		if (gnutls_record_send(s, line, 200) != 200)
			return 1;
	printf("%.4f\n", now_s() - t0);
	gnutls_bye(s, GNUTLS_SHUT_WR);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char line[200];
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: tlsbench openssl|gnutls PORT N\n");
		return 2;
	}
	memset(line, 'x', sizeof(line));
	line[199] = '\n';
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return 1;
	if (!strcmp(argv[1], "gnutls"))
		return run_gnutls(fd, atol(argv[3]), line);
	return run_openssl(fd, atol(argv[3]), line);
}
