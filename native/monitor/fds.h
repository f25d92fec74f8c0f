/*
 * How berth-init (native/monitor.c) hands the monitor to berth-monitor: these
 * fds, open across execve, and
 *   argv: berth-monitor <worker pid> <log max size> <log max files> <log file name> <flags>
 * (flags: MONITOR's, 1 OpenStdin, 2 terminal, 4 StdinOnce)
 * A slot without its fd is closed (no log, no stdin; with a terminal, no
 * pipes but the console socket).
 */
#ifndef BERTH_MONITOR_FDS_H
#define BERTH_MONITOR_FDS_H

enum {
	MFD_DIR = 3,     /* the monitor directory (O_PATH) */
	MFD_LOCK = 4,    /* monitor.pid, flock held (the lock goes with the open file) */
	MFD_LISTEN = 5,  /* attach.sock, listening, non-blocking */
	MFD_OUT = 6,     /* container stdout, read end, non-blocking */
	MFD_ERR = 7,     /* container stderr, read end, non-blocking */
	MFD_IN = 8,      /* container stdin, write end, non-blocking (OpenStdin) */
	MFD_PID = 9,     /* the worker writes the container's pid here */
	MFD_LOGDIR = 10, /* the log's directory (O_PATH) */
	MFD_LOG = 11,    /* the log, O_APPEND */
	MFD_CONSOLE = 12, /* terminal: the socket the container's PTY step sends the pty master on */
	MFD_COUNT = 10   /* slots, from MFD_DIR */
};

#endif
