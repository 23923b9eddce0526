package tray

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// signInStatus is Work, failing for want of an OAuth2 sign-in, and
// Charter, ok.
func signInStatus(cause probe.Cause) health.Status {
	st := okStatus()
	st.State = health.Failing
	st.Accounts = append(st.Accounts, health.AccountStatus{Name: "work", Provider: "Work", State: health.Failing, Cause: cause,
		AuthLocked: true, Last: &probe.Result{Name: "work", Status: probe.StatusFailing, Cause: cause, Message: "Not signed in.", CheckedAt: time.Now()}})
	return st
}

// The menu has "Sign in to Work…" under an account that waits for a
// sign-in, and only there, and only when the tray can run one.
func TestViewSignIn(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		cause probe.Cause
		want  bool
	}{{probe.CauseOAuthSignInRequired, true}, {probe.CauseOAuthTokenRejected, true}, {probe.CauseAuthRejected, false}, {probe.CauseOAuthProviderUnreachable, false}} {
		st := signInStatus(tc.cause)
		v := withSignIn(view(st, now), st, nil, nil)
		var texts []string
		for _, l := range v.Lines {
			texts = append(texts, l.Text)
		}
		got := len(v.Lines) == 3 && v.Lines[2].Text == "Sign in to Work…" && v.Lines[2].Action == actionSignIn && v.Lines[2].Account == "work"
		if got != tc.want || (!tc.want && len(v.Lines) != 2) {
			t.Errorf("%s: lines %q", tc.cause, texts)
		}
	}
	st := signInStatus(probe.CauseOAuthSignInRequired)
	v := withSignIn(view(st, now), st, map[string]bool{"work": true}, nil)
	if l := v.Lines[2]; !strings.HasPrefix(l.Text, "Signing in to Work…") || l.Action != actionNone {
		t.Errorf("while signing in: %+v", l)
	}
	// An account whose tokens come from a helper: no line.
	if v := withSignIn(view(st, now), st, nil, func(a string) bool { return a != "work" }); len(v.Lines) != 2 {
		t.Errorf("a helper's account got a sign-in line: %+v", v.Lines)
	}
}

// Clicking "Sign in…" runs the sign-in with the tray's opener, then checks
// the account; the line says it runs meanwhile, and a second click does
// nothing. A sign-in that fails says why in a notification.
func TestAppSignIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var calls []string
		gate := make(chan error)
		h := startWith(t, signInStatus(probe.CauseOAuthSignInRequired), func(o *Options) {
			o.SignIn = func(ctx context.Context, account string, open func(string) error) error {
				mu.Lock()
				calls = append(calls, account)
				mu.Unlock()
				if err := open("http://login.example/authorize"); err != nil {
					return err
				}
				select {
				case err := <-gate:
					return err
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		})
		defer h.stop()
		if v := h.ui.last(); len(v.Lines) != 3 || v.Lines[2].Action != actionSignIn {
			t.Fatalf("lines %+v", v.Lines)
		}
		h.click(click{kind: clickLine, line: 2})
		if v := h.ui.last(); !strings.HasPrefix(v.Lines[2].Text, "Signing in to Work…") {
			t.Fatalf("while signing in: %+v", v.Lines[2])
		}
		h.click(click{kind: clickLine, line: 2})
		if !slices.Equal(calls, []string{"work"}) || !slices.Equal(h.opener.paths(), []string{"http://login.example/authorize"}) {
			t.Fatalf("sign-ins %q, opened %q", calls, h.opener.paths())
		}
		gate <- nil
		synctest.Wait()
		if !slices.Equal(h.src.checks, []string{"work"}) {
			t.Errorf("checks after the sign-in: %q", h.src.checks)
		}

		// A failed one is said.
		h.click(click{kind: clickLine, line: 2})
		gate <- errors.New("no OAuth2 client id: this build has none for Microsoft")
		synctest.Wait()
		wait(coalesceWindow)
		if got := h.notes.titles(); !slices.Contains(got, "Signing work in did not complete") {
			t.Errorf("notifications %q", got)
		}
	})
}
