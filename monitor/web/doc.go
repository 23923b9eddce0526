// Package web is the dashboard: a small site the daemon serves on
// loopback, for a person to look at every account (the same words and
// icons as the tray and `smtpwatch status`), its history — uptime over
// 24 hours, 7 and 30 days, the time of each phase over time as charts
// drawn on the server in SVG, the changes of state with their causes, the
// certificate — and to add, change and remove accounts without a text
// editor, through the same onboarding (monitor/onboard) and the same file
// editor and checks (monitor/config) as the command line.
//
// # Who can use it
//
// The site is built the way Syncthing guards its GUI (lib/api: api_auth.go,
// api_csrf.go, tokenmanager.go), for a daemon whose listener other local
// users and every web page the person visits can reach:
//
//   - Listen binds a loopback address only; the config refuses another.
//   - Every request must name the listener in its Host header
//     (127.0.0.1:PORT, [::1]:PORT or localhost:PORT), so that a web page
//     whose own name a DNS rebinding pointed at 127.0.0.1 gets 403.
//   - Nothing but GET /login answers without a session. A session begins
//     with a one-time login token (LoginURL) that only the user's own
//     processes can get — from the daemon's Unix socket (`smtpwatch open`)
//     or from the tray in the daemon's process — valid for TokenLifetime
//     and used up by its first request, whatever the outcome. The session
//     is a random id in an HttpOnly, SameSite=Strict cookie; it lasts
//     SessionIdle after its last request.
//   - A request that changes anything (POST) must also carry the session's
//     CSRF token (a form field, or the X-CSRF-Token header), and an Origin
//     header, when the browser sends one, must be the site's own. Requests
//     that browsers mark as coming from another site (Sec-Fetch-Site) are
//     refused unless they are plain navigations to a page, so that a page
//     on another port of 127.0.0.1 — same-site for cookies — can neither
//     embed nor drive the dashboard.
//   - Pages cannot be framed (CSP frame-ancestors 'none'), load scripts
//     and styles from the site only (no CDN), and send no Referer to
//     other sites.
//
// Failures answer 403 with a page that says how to get a new link
// (`smtpwatch open`); tokens and session ids are never logged.
//
// # Cost
//
// While no browser has it open the site costs an idle listener: no
// timers, no goroutines but the one blocked in Accept, templates parsed
// at the first request. An open overview holds one event stream (a
// heartbeat every 15 s) and fetches a fragment when something changes.
package web
