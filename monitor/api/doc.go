// Package api is the daemon's local API: HTTP over a Unix domain socket that
// only the user who runs the daemon (and administrators) can open. The
// `smtpwatch status`, `pause` and `resume` commands, the tray client and
// scrapers use it.
//
// Endpoints (all answers are JSON unless said otherwise; errors are
// {"error": "..."} with 400 for bad parameters, 404 for an unknown path or
// account, 405 for a wrong method, 413 for a request body over 4 KiB):
//
//	GET  /v1/status                      health.Status
//	GET  /v1/events                      Server-Sent Events: "event: KIND" and
//	                                     "data: <health.Event JSON>", one per event,
//	                                     and a ": heartbeat" comment every 15 s; kind
//	                                     "notification" carries a decided notification
//	                                     (health.Notification), the ones that still
//	                                     stand first, as replays
//	POST /v1/check[?account=NAME]        probe now and wait: {"status": worst, "accounts": [probe.Result]}
//	                                     (report.Document)
//	POST /v1/pause[?account=NAME][&for=DURATION | &until=RFC3339]
//	                                     neither for nor until: until resumed; answers health.Status
//	POST /v1/resume[?account=NAME]       answers health.Status
//	GET  /metrics                        Prometheus text format
//	POST /v1/ui/token                    {"url": "http://127.0.0.1:PORT/login?token=..."}: a one-time
//	                                     link to the dashboard (monitor/web); 404 when it is not served
//
// The metrics listener (ServePrometheus, on metrics_listen) serves /metrics
// and, in the blackbox_exporter style:
//
//	GET  /probe?account=NAME             check the account now (engine rules for logins)
//	GET  /probe?target=HOST:PORT&module=NAME
//	                                     check a server with a [[module]]'s settings
//
// with metrics.ProbeGatherer's metrics; the check ends ScrapeTimeoutOffset
// before X-Prometheus-Scrape-Timeout-Seconds. 400 bad parameters, 403 a
// target the module does not list, 404 an unknown account or module, 503
// no check could start in time.
//
// No account parameter means every account. Parameters go in the query
// string; unknown or repeated parameters are refused.
//
// # Who can connect
//
// On Linux, macOS and the BSDs, Listen creates the socket's directory with
// mode 0700 and chmods the socket to 0600 right after binding; a process
// must be able to write the socket file to connect, and must be able to
// search the directory to reach it, so only the owner (and root) can. The
// directory is $XDG_RUNTIME_DIR/smtpwatch or the per-user state directory
// (see paths.SocketPath); the 0700 directory is what closes the moment
// between bind and chmod, when the socket still has the umask's mode.
//
// On Windows 10 (1803) and later, AF_UNIX sockets are files too: Go's
// net.Listen("unix") creates one, and Windows checks the file's ACL:
// connecting needs write access to the socket file, binding write access
// to its directory. Go's os.Chmod only toggles the read-only attribute
// there, so Listen does not call it; the ACL is the protection. A socket
// directory Listen creates gets the descriptor of PrivateDirSDDL (the
// user, SYSTEM and Administrators only, nothing inherited), which the
// socket file inherits. The system service's socket directory, which its
// install makes, lets the members of one group open the socket as well
// (see service.WindowsSystemPaths); Listen leaves an existing directory's
// ACL alone. No named pipe is used.
//
// Listen refuses to start when another daemon answers on the socket
// (ErrAlreadyRunning), and replaces a socket file that nothing answers on,
// as a killed daemon leaves behind. Two daemons started in the same instant
// can both find the socket stale; the second to bind then finds the first
// answering and gets ErrAlreadyRunning, unless it removed the first's socket
// before that one was bound: a window of microseconds, not closed by a lock
// file.
package api
