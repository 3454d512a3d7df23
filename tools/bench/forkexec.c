/* The fork+exec loop: N times fork, execve /bin/true, wait. Prints the
 * elapsed wall time in seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	char *const args[] = { "true", NULL };
	char *const env[] = { "PATH=/usr/bin:/bin", NULL };
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			execve("/bin/true", args, env);
			_exit(127);
		}
		if (p < 0 || waitpid(p, NULL, 0) < 0)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
