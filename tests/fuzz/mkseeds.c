/*
 * Seeds that cannot be committed: binary records whose layout is
 * bpf/tokenward.h's (made from the header, so they follow it), TLS
 * ClientHellos, and text holding real-format tokens minted now
 * (tests/unit/tokmint.h) — the standard forbids a committed token, even a
 * fake one a rule matches. `make fuzz` runs this into BUILD/fuzz/seeds.
 *
 *   mkseeds DIR     writes DIR/{event,sni,jwt,detect,stream}/NAME
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include "tokenward.h"
#include "tokmint.h"

static const char *root;

static void put(const char *kind, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, kind);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", root, kind, name);
	if (!(f = fopen(path, "w")) || fwrite(p, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* ---- event: [u16 length][record] ... ---- */

struct stream {
	unsigned char b[65536];
	size_t n;
};

static void rec(struct stream *s, const void *r, size_t n)
{
	s->b[s->n++] = n & 0xff;
	s->b[s->n++] = n >> 8;
	memcpy(s->b + s->n, r, n);
	s->n += n;
}

static void hdr(struct tw_hdr *h, unsigned type, unsigned tgid)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->ts_boot_ns = 1000000000ull * tgid;
	h->pid = h->tgid = tgid;
	h->ppid = 1;
	h->uid = 1000;
	h->cgroup_id = 7;
	h->start_boot_ns = 5;
	snprintf(h->comm, sizeof(h->comm), "agent");
}

static void addr4(struct tw_addr *a, unsigned ip, unsigned port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->port = port;
	memcpy(a->in6, &ip, 4);
}

static void event_seeds(void)
{
	static unsigned char r[sizeof(struct tw_io_event) + sizeof(struct tw_sock_info) + 512];
	struct stream *s = calloc(1, sizeof(*s));
	const char args[] = "curl\0-H\0X-Trace: 1\0https://api.example.test/\0", env[] = "HOME=/root\0LANG=C\0";
	const char path[] = "/usr/bin/curl", fpath[] = "/var/log/agent.log";
	const char body[] = "GET / HTTP/1.1\r\nHost: api.example.test\r\n\r\n", line[] = "level=info msg=started\n";

	/* exec */
	struct tw_exec_event *e = (void *)r;
	memset(r, 0, sizeof(r));
	hdr(&e->hdr, TW_EV_EXEC, 100);
	e->path_len = sizeof(path);
	e->args_len = sizeof(args) - 1;
	e->env_len = sizeof(env) - 1;
	e->args_full_len = e->args_len;
	e->env_full_len = e->env_len;
	memcpy(e->data, path, sizeof(path));
	memcpy(e->data + e->path_len, args, e->args_len);
	memcpy(e->data + e->path_len + e->args_len, env, e->env_len);
	rec(s, r, sizeof(*e) + e->path_len + e->args_len + e->env_len);
	put("event", "exec", s->b, s->n);

	/* a file's path, then a write to it in two chunks */
	s->n = 0;
	struct tw_path_event *p = (void *)r;
	memset(r, 0, sizeof(r));
	hdr(&p->hdr, TW_EV_FILE_PATH, 100);
	p->file_id = 42;
	p->path_len = sizeof(fpath);
	memcpy(p->path, fpath, sizeof(fpath));
	rec(s, r, sizeof(*p) + p->path_len);
	struct tw_io_event *io = (void *)r;
	memset(r, 0, sizeof(r));
	hdr(&io->hdr, TW_EV_FILE_WRITE, 100);
	io->file_id = 42;
	io->total_len = io->cap_len = 2 * (sizeof(line) - 1);
	io->data_len = sizeof(line) - 1;
	io->fd = 3;
	io->syscall = TW_SC_WRITE;
	memcpy(r + sizeof(*io), line, io->data_len);
	rec(s, r, sizeof(*io) + io->data_len);
	io->chunk_off = io->data_len;
	io->hdr.flags = TW_F_LAST_CHUNK;
	rec(s, r, sizeof(*io) + io->data_len);
	put("event", "file_write", s->b, s->n);

	/* connect, then a send on it */
	s->n = 0;
	struct tw_conn_event *c = (void *)r;
	memset(r, 0, sizeof(r));
	hdr(&c->hdr, TW_EV_CONNECT, 101);
	c->fd = 4;
	c->sock.family = AF_INET;
	c->sock.sock_type = SOCK_STREAM;
	c->sock.protocol = IPPROTO_TCP;
	addr4(&c->sock.local, 0x0100007f, 40000);
	addr4(&c->sock.peer, 0x077100cb, 80);
	rec(s, r, sizeof(*c));
	struct tw_sock_info sock = c->sock; /* c is r: keep it before r is reused */
	memset(r, 0, sizeof(r));
	hdr(&io->hdr, TW_EV_SOCK_SEND, 101);
	io->hdr.flags = TW_F_LAST_CHUNK;
	io->file_id = 43;
	io->total_len = io->cap_len = io->data_len = sizeof(body) - 1;
	io->fd = 4;
	io->syscall = TW_SC_SENDTO;
	struct tw_sock_info *si = (void *)(r + sizeof(*io));
	*si = sock;
	memcpy(r + sizeof(*io) + sizeof(*si), body, io->data_len);
	rec(s, r, sizeof(*io) + sizeof(*si) + io->data_len);
	put("event", "connect_send", s->b, s->n);

	/* fork, tail, batch, exit */
	s->n = 0;
	struct tw_fork_event *f = (void *)r;
	memset(r, 0, sizeof(r));
	hdr(&f->hdr, TW_EV_FORK, 100);
	f->child_tgid = 102;
	f->child_start_boot_ns = 9;
	rec(s, r, sizeof(*f));
	struct tw_tail_event *t = (void *)r;
	memset(r, 0, sizeof(r));
	hdr(&t->hdr, TW_EV_FILE_TAIL, 102);
	t->file_id = 42;
	t->end = 100;
	rec(s, r, sizeof(*t));
	struct tw_batch_event *b = (void *)r;
	memset(r, 0, sizeof(r));
	hdr(&b->hdr, TW_EV_SOCK_BATCH, 102);
	b->file_id = 43;
	b->sock.family = AF_INET;
	rec(s, r, sizeof(*b));
	struct tw_exit_event *x = (void *)r;
	memset(r, 0, sizeof(r));
	hdr(&x->hdr, TW_EV_EXIT, 102);
	rec(s, r, sizeof(*x));
	put("event", "lifecycle", s->b, s->n);
	free(s);
}

/* ---- sni: ClientHellos ---- */

static size_t put16(unsigned char *p, unsigned v) { p[0] = v >> 8; p[1] = v; return 2; }

static size_t client_hello(unsigned char *buf, const char *name)
{
	unsigned char body[1024], ext[600];
	size_t b = 0, e = 0, nl = strlen(name);

	e += put16(ext + e, 10);
	e += put16(ext + e, 4);
	e += put16(ext + e, 2);
	e += put16(ext + e, 29);
	if (nl) {
		e += put16(ext + e, 0);
		e += put16(ext + e, nl + 5);
		e += put16(ext + e, nl + 3);
		ext[e++] = 0;
		e += put16(ext + e, nl);
		memcpy(ext + e, name, nl);
		e += nl;
	}
	body[b++] = 3; body[b++] = 3;
	memset(body + b, 0xab, 32); b += 32;
	body[b++] = 32; memset(body + b, 0xcd, 32); b += 32;
	b += put16(body + b, 4);
	b += put16(body + b, 0x1301); b += put16(body + b, 0x1302);
	body[b++] = 1; body[b++] = 0;
	b += put16(body + b, e);
	memcpy(body + b, ext, e); b += e;
	buf[0] = 0x16; buf[1] = 3; buf[2] = 1;
	put16(buf + 3, b + 4);
	buf[5] = 1; buf[6] = b >> 16; buf[7] = b >> 8; buf[8] = b;
	memcpy(buf + 9, body, b);
	return 9 + b;
}

static void sni_seeds(void)
{
	unsigned char buf[2048];

	put("sni", "api", buf, client_hello(buf, "api.example.test"));
	put("sni", "no_sni", buf, client_hello(buf, ""));
	put("sni", "long", buf, client_hello(buf, "a-very-long-label-that-goes-on-and-on.sub.example.test"));
}

/* ---- jwt and detect: text with tokens minted now ---- */

static void token_seeds(void)
{
	char jwt[1024], twd[64], ghp[64], text[4096];
	int n;

	tm_jwt(jwt, "at+jwt", 1);
	put("jwt", "at_jwt", jwt, strlen(jwt));
	tm_jwt(jwt, "JWT", 0);
	put("jwt", "no_alg", jwt, strlen(jwt));
	tm_twd(twd);
	twd[53] = 0;
	tm_github(ghp, "ghp_");
	ghp[40] = 0;
	tm_jwt(jwt, "JWT", 1);
	/* detect: byte 0 picks the detector's flags (fuzz_detect.c) */
	n = snprintf(text, sizeof(text), "\x05" "export GITHUB_TOKEN=%s\nAuthorization: Bearer %s\n"
		     "{\"token\":\"%s\"}\n", ghp, jwt, twd);
	put("detect", "mixed", text, (size_t)n);
	/* stream: byte 0 the flags, bytes 1..2 the split point (fuzz_stream.c) */
	put("stream", "mixed", text, (size_t)n);
	/* two pieces need more than detector_overlap() (672 here) bytes */
	n = snprintf(text, sizeof(text), "\x01\x30\x01%s %s\n%*s%s,%s\n%*s%s\n", ghp, twd, 600, "", twd, ghp,
		     900, "", twd);
	put("stream", "spaced", text, (size_t)n);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	root = argv[1];
	if (mkdir(root, 0755) && errno != EEXIST) {
		perror(root);
		return 1;
	}
	event_seeds();
	sni_seeds();
	token_seeds();
	return 0;
}
