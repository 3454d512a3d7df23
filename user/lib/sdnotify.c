/* systemd readiness notification (see sdnotify.h). */
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include "lib/log.h"
#include "lib/sdnotify.h"

static void notify(const char *state)
{
	/* 0: no socket, not under systemd. A failure is worth a line: the
	 * unit would otherwise time out starting without a reason given. */
	int r = sd_pid_notify(getpid(), 0, state);

	if (r < 0)
		log_warn("cannot tell systemd '%s': error %d", state, -r);
}

void sdnotify_ready(void)
{
	notify("READY=1\nSTATUS=sensors attached; watching");
}

void sdnotify_stopping(void)
{
	notify("STOPPING=1");
}
