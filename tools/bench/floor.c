/* Load the floor programs, create the ready file, wait for SIGTERM.
 *   floor READY_FILE [FILE:FUNCTION...]
 * Each FILE:FUNCTION also gets the empty entry uprobe, for every process. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"
#include "sensors/sysprep.h"

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

int main(int argc, char **argv)
{
	struct floor_bpf *skel;
	char err[256];
	FILE *f;

	/* The same preconditions as tokenward run: on a fresh machine tracefs
	 * is not mounted, and the tracepoints cannot attach without it. */
	if (sysprep_run(err, sizeof(err))) {
		fprintf(stderr, "floor: %s\n", err);
		return 1;
	}
	skel = floor_bpf__open();
	if (skel)
		bpf_program__set_autoattach(skel->progs.f_tls, false);
	if (!skel || floor_bpf__load(skel) || floor_bpf__attach(skel)) {
		fprintf(stderr, "floor: load/attach failed\n");
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		char path[4096], *fn;
		LIBBPF_OPTS(bpf_uprobe_opts, uo);

		snprintf(path, sizeof(path), "%s", argv[i]);
		if (!(fn = strchr(path, ':')))
			continue;
		*fn++ = 0;
		uo.func_name = fn;
		if (!bpf_program__attach_uprobe_opts(skel->progs.f_tls, -1, path, 0, &uo)) {
			fprintf(stderr, "floor: uprobe on %s in %s failed\n", fn, path);
			return 1;
		}
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
