/*
 * A stand-in for an AI agent holding a delegation token, for the verdict
 * live tests. It reads commands from stdin (a pipe, which the sensors do
 * not capture), so the token never passes through its own argv or env:
 *
 *   token TOKEN           hold TOKEN (first, before anything else)
 *   send PORT [HOST]      HTTP request with "Authorization: Bearer TOKEN"
 *                         to 127.0.0.1:PORT (Host: HOST, default 127.0.0.1:PORT)
 *   fork-send PORT        the same, from a forked child
 *   write PATH            append "token=TOKEN" to PATH
 *   exec-env              run /bin/true with TW_TOKEN=TOKEN in its environment
 *   exec-argv             run /bin/true with TOKEN as its argument
 *   exec-self-env         run this program again (a delegate exe) with the token in env
 *   quit
 *
 * After each command it prints "done CMD" (or "fail CMD: why") and flushes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char token[8192];

static int do_send(int port, const char *host)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	char req[10000], hostbuf[64];
	int fd, n;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (!host) {
		snprintf(hostbuf, sizeof(hostbuf), "127.0.0.1:%d", port);
		host = hostbuf;
	}
	n = snprintf(req, sizeof(req), "GET /resource HTTP/1.1\r\nHost: %s\r\n"
		     "Authorization: Bearer %s\r\n\r\n", host, token);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return -errno;
	if (write(fd, req, n) != n) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

static int run_child(char *const argv[], char *const envp[])
{
	pid_t p = fork();
	int st;

	if (p < 0)
		return -errno;
	if (p == 0) {
		execve(argv[0], argv, envp);
		_exit(127);
	}
	waitpid(p, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
}

int main(int argc, char **argv)
{
	char line[9000], self[4096];
	ssize_t sn = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[sn > 0 ? sn : 0] = 0;
	/* Run again by exec-self-env: just exit, having been seen. */
	if (argc > 1 && !strcmp(argv[1], "--exit"))
		return 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[32] = "", arg[4096] = "", arg2[256] = "";
		int r = 0;

		line[strcspn(line, "\n")] = 0;
		sscanf(line, "%31s %4095s %255s", cmd, arg, arg2);
		if (!strcmp(cmd, "token")) {
			snprintf(token, sizeof(token), "%s", arg);
		} else if (!strcmp(cmd, "send")) {
			r = do_send(atoi(arg), arg2[0] ? arg2 : NULL);
		} else if (!strcmp(cmd, "fork-send")) {
			pid_t p = fork();
			int st;
			if (p == 0)
				_exit(do_send(atoi(arg), NULL) ? 1 : 0);
			waitpid(p, &st, 0);
			r = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
		} else if (!strcmp(cmd, "write")) {
			FILE *f = fopen(arg, "a");
			if (!f || fprintf(f, "token=%s\n", token) < 0 || fclose(f))
				r = -EIO;
		} else if (!strcmp(cmd, "exec-env") || !strcmp(cmd, "exec-self-env")) {
			char env[8300];
			char *envp[] = { env, NULL };
			char *tv[] = { "/bin/true", NULL };
			char *sv[] = { self, "--exit", NULL };
			snprintf(env, sizeof(env), "TW_TOKEN=%s", token);
			r = run_child(!strcmp(cmd, "exec-env") ? tv : sv, envp);
		} else if (!strcmp(cmd, "exec-argv")) {
			char *av[] = { "/bin/true", token, NULL };
			char *envp[] = { NULL };
			r = run_child(av, envp);
		} else if (!strcmp(cmd, "quit")) {
			break;
		} else {
			r = -EINVAL;
		}
		if (r)
			printf("fail %s: %s\n", cmd, strerror(-r));
		else
			printf("done %s\n", cmd);
	}
	return 0;
}
