package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Lifetimes and bounds of what the server hands out. Like Syncthing's
// token manager (lib/api/tokenmanager.go) they expire, a use extends a
// session, and the oldest go when there are too many.
const (
	// TokenLifetime is how long a one-time login token from LoginURL can
	// be exchanged for a session.
	TokenLifetime = 10 * time.Minute
	// SessionIdle is how long a session lasts without a request.
	SessionIdle = 24 * time.Hour
	// maxTokens and maxSessions bound the tokens waiting to be used and
	// the sessions; beyond them the oldest is dropped.
	maxTokens   = 16
	maxSessions = 16
	// secretBytes is the randomness of tokens, session ids and CSRF tokens.
	secretBytes = 32
)

// key is what the maps hold instead of a token or a session id: its
// SHA-256, so that a lookup's timing says nothing about the secret.
type key [sha256.Size]byte

func keyOf(s string) key { return sha256.Sum256([]byte(s)) }

type session struct {
	csrf    string
	expires time.Time
	flash   string // said once on the next page: what a form did
}

// authority hands out one-time login tokens and the sessions they are
// exchanged for. Its methods are safe for concurrent use.
type authority struct {
	now func() time.Time

	mu       sync.Mutex
	tokens   map[key]time.Time // token → expiry
	sessions map[key]*session  // session id → session
}

func newAuthority(now func() time.Time) *authority {
	return &authority{now: now, tokens: map[key]time.Time{}, sessions: map[key]*session{}}
}

// newSecret is 32 random bytes, base64url without padding.
func newSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newToken makes a one-time login token, valid for TokenLifetime.
func (a *authority) newToken() string {
	t := newSecret()
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	a.expireLocked(now)
	a.tokens[keyOf(t)] = now.Add(TokenLifetime)
	dropOldest(a.tokens, maxTokens, func(e time.Time) time.Time { return e })
	return t
}

// exchange uses up a login token: it is removed whether or not it is
// still valid, and a valid one gives a new session's id and CSRF token.
func (a *authority) exchange(token string) (id, csrf string, ok bool) {
	if token == "" {
		return "", "", false
	}
	k := keyOf(token)
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	exp, found := a.tokens[k]
	delete(a.tokens, k)
	if !found || !now.Before(exp) {
		return "", "", false
	}
	a.expireLocked(now)
	id, csrf = newSecret(), newSecret()
	a.sessions[keyOf(id)] = &session{csrf: csrf, expires: now.Add(SessionIdle)}
	dropOldest(a.sessions, maxSessions, func(s *session) time.Time { return s.expires })
	return id, csrf, true
}

// session checks a session id and extends the session; it returns the
// session's CSRF token.
func (a *authority) session(id string) (csrf string, ok bool) {
	if id == "" {
		return "", false
	}
	k := keyOf(id)
	a.mu.Lock()
	defer a.mu.Unlock()
	s, found := a.sessions[k]
	now := a.now()
	if !found {
		return "", false
	}
	if !now.Before(s.expires) {
		delete(a.sessions, k)
		return "", false
	}
	s.expires = now.Add(SessionIdle)
	return s.csrf, true
}

// setFlash keeps a message for the session's next page.
func (a *authority) setFlash(id, msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.sessions[keyOf(id)]; ok {
		s.flash = msg
	}
}

// takeFlash returns the session's message and forgets it.
func (a *authority) takeFlash(id string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[keyOf(id)]
	if !ok {
		return ""
	}
	msg := s.flash
	s.flash = ""
	return msg
}

// end ends a session.
func (a *authority) end(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, keyOf(id))
}

// expireLocked drops what has expired; a.mu is held.
func (a *authority) expireLocked(now time.Time) {
	for k, exp := range a.tokens {
		if !now.Before(exp) {
			delete(a.tokens, k)
		}
	}
	for k, s := range a.sessions {
		if !now.Before(s.expires) {
			delete(a.sessions, k)
		}
	}
}

// dropOldest removes the entries of m that expire first until it holds at
// most n.
func dropOldest[V any](m map[key]V, n int, expiry func(V) time.Time) {
	for len(m) > n {
		var (
			oldest key
			first  time.Time
			found  bool
		)
		for k, v := range m {
			if e := expiry(v); !found || e.Before(first) {
				oldest, first, found = k, e, true
			}
		}
		delete(m, oldest)
	}
}

// sameSecret compares two secrets in constant time.
func sameSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// sessionCookie is the session cookie: HttpOnly (no script reads it),
// SameSite=Strict (no other site's page sends it), for the whole path. Its
// name carries the port, since cookies do not keep ports apart and two
// daemons may serve two dashboards to one browser.
func sessionCookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: maxAge}
}
