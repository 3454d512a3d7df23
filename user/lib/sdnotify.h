/*
 * systemd's readiness protocol (Type=notify, tools/tokenward.service),
 * through libsystemd's sd_notify. Without $NOTIFY_SOCKET (not started by
 * systemd) each call does nothing.
 */
#ifndef TW_SDNOTIFY_H
#define TW_SDNOTIFY_H

/* Every sensor is attached and /proc swept: "READY=1" with the pid. */
void sdnotify_ready(void);
/* Draining and detaching: "STOPPING=1". */
void sdnotify_stopping(void);

#endif
