package sip

import (
	"context"
	"time"

	"github.com/privox/privox/internal/store"
)

// Deactivation, erasure and suspension of a user reach the SIP server here: it holds a
// person's data in memory outside the store (the bindings of their phones, their accounts in
// the cache, their calls in progress) and would otherwise keep routing calls to an erased
// person until the bindings expired.

// userRef names a user of a tenant.
type userRef struct{ tenant, user int64 }

// blockWatch remembers how far forgetBlocked has looked.
type blockWatch struct {
	since int64 // unix ms; 0 before the first look
}

// ForgetUser drops everything the server holds in memory about a user of a tenant: the
// bindings of the user's extensions (and their rows in the store), the cached accounts, and
// the user's calls in progress, which are hung up. It returns how many bindings and calls it
// ended. Phones of the user cannot register again while the user is deactivated or suspended
// (the store's digest lookup skips them), so the user stays unreachable.
func (s *Server) ForgetUser(tenantID, userID int64) (bindings, calls int) {
	if userID == 0 {
		return 0, 0
	}
	return s.forgetUsers(map[userRef]bool{{tenantID, userID}: true})
}

func (s *Server) forgetUsers(set map[userRef]bool) (bindings, calls int) {
	bindings = s.loc.forgetUsers(set)
	s.accounts.forgetUsers(set)
	if bindings > 0 && s.persist != nil {
		s.persist.flush()
	}
	var ending []*call
	for _, c := range s.calls.all() {
		c.mu.Lock()
		mine := c.caller != nil && set[userRef{c.tenant.ID, c.caller.userID}] || c.callee != nil && set[userRef{c.tenant.ID, c.callee.userID}]
		c.mu.Unlock()
		if mine {
			ending = append(ending, c)
		}
	}
	done := make(chan struct{}, len(ending))
	for _, c := range ending {
		go func() { c.hangup("user-deactivated", 480); done <- struct{}{} }()
	}
	for range ending {
		<-done // each hangup waits for its BYEs a few seconds at most
	}
	if len(ending) > 0 || bindings > 0 {
		s.log.Info("forgot deactivated or suspended users", "users", len(set), "bindings", bindings, "calls", len(ending))
	}
	return bindings, len(ending)
}

// forgetBlocked forgets the users deactivated or suspended since the last look (at the first
// look: every such user, whose bindings a restart may have restored), so that a change made
// elsewhere (the CLI, another node) reaches this server within a poll interval.
func (s *Server) forgetBlocked(ctx context.Context) error {
	now := store.Now()
	us, err := s.db.UsersBlockedSince(ctx, s.blocked.since)
	if err != nil {
		return err
	}
	// a change committed while the query ran is seen next time as well
	s.blocked.since = now - time.Second.Milliseconds()
	if len(us) == 0 {
		return nil
	}
	set := make(map[userRef]bool, len(us))
	for _, u := range us {
		set[userRef{u.TenantID, u.ID}] = true
	}
	s.forgetUsers(set)
	return nil
}

// forgetUsers drops the bindings of every extension of the users (caller holds no lock).
func (l *location) forgetUsers(set map[userRef]bool) int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for k, e := range sh.aors {
			if e.userID == 0 || !set[userRef{k.tenant, e.userID}] {
				continue
			}
			for j := range e.bindings {
				l.forget(k, e, &e.bindings[j])
				n++
			}
			delete(sh.aors, k)
		}
		sh.mu.Unlock()
	}
	return n
}

// forgetUsers drops the cached accounts of the users' extensions, and the tenants' cached
// "no such account" answers, which may be the users' phones asking while they were blocked:
// a resumed user's phone registers again at once.
func (c *accounts) forgetUsers(set map[userRef]bool) {
	tenants := map[int64]bool{}
	for u := range set {
		tenants[u.tenant] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range []map[acctKey]acctEntry{c.byUser, c.byNumber} {
		for k, e := range m {
			if e.acct == nil && tenants[k.tenant] || e.acct != nil && set[userRef{e.acct.tenantID, e.acct.userID}] {
				delete(m, k)
			}
		}
	}
}
