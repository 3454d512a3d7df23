/* Load the floor programs, create the ready file, wait for SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

int main(int argc, char **argv)
{
	struct floor_bpf *skel = floor_bpf__open_and_load();
	FILE *f;

	if (!skel || floor_bpf__attach(skel)) {
		fprintf(stderr, "floor: load/attach failed\n");
		return 1;
	}
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	if (argc > 1 && (f = fopen(argv[1], "w")))
		fclose(f);
	while (!stop)
		pause();
	floor_bpf__destroy(skel);
	return 0;
}
