package oauthtest

import (
	"context"
	"errors"
	"sync"

	"smtpwatch/monitor/credential"
)

// Grants is a credential.GrantStore in memory, in place of the OS keyring,
// for tests of code that keeps sign-ins. Safe for concurrent use.
type Grants struct {
	mu    sync.Mutex
	m     map[string]credential.Grant
	saves int
	fail  bool
}

// NewGrants returns an empty store.
func NewGrants() *Grants { return &Grants{m: map[string]credential.Grant{}} }

// LoadGrant returns the account's sign-in, or an error wrapping
// credential.ErrNotFound, as the keyring does.
func (s *Grants) LoadGrant(_ context.Context, account string) (credential.Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.m[account]
	if !ok {
		return credential.Grant{}, &credential.Error{Msg: "no sign-in", Err: credential.ErrNotFound}
	}
	return g, nil
}

// SaveGrant keeps g, and counts it (Saves); with FailSaves it fails as a
// locked keyring does.
func (s *Grants) SaveGrant(account string, g credential.Grant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("the keyring is locked")
	}
	s.saves++
	s.m[account] = g
	return nil
}

// DeleteGrant forgets the account's sign-in.
func (s *Grants) DeleteGrant(account string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, account)
	return nil
}

// Get returns the account's sign-in, zero when there is none.
func (s *Grants) Get(account string) credential.Grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[account]
}

// Put keeps g as the test's own setup: it is not counted as a save.
func (s *Grants) Put(account string, g credential.Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[account] = g
}

// Saves counts the SaveGrant calls that kept a sign-in.
func (s *Grants) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// FailSaves makes every SaveGrant fail from now on (true) or work again.
func (s *Grants) FailSaves(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}
