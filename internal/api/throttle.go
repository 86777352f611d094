package api

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// loginThrottle decides, before any password is hashed, whether a login attempt may go on.
// Every attempt counts when it starts, so a burst of parallel guesses is refused at once
// instead of being counted only as each slow check finishes.
//
//   - Per source address (IPv6 by /64): addrFailures attempts without a success within
//     addrWindow, then the address is refused until the window has passed. One address cannot
//     go on guessing, and refusing it locks out nobody else.
//   - Per account (tenant and e-mail as typed, whether or not they exist, so that the answer
//     does not tell): a budget of acctBurst attempts that refills by one every acctInterval.
//     Guessing from many addresses is slowed to that rate. One address draws at most
//     acctPerAddr attempts from an account's budget (its own budget limits it beyond), so
//     that no single address can slow an account; and addresses the account logged in from
//     before (within knownTTL) do not draw on it at all, so that others exhausting it do not
//     lock its owner out.
//
// State is in memory only and bounded by maxThrottleEntries per map.
type loginThrottle struct {
	mu       sync.Mutex
	addrs    map[string]*addrState
	accounts map[string]*acctState
	now      func() time.Time
	// limit bounds each map (maxThrottleEntries).
	limit int
}

const (
	addrFailures       = 10
	addrWindow         = 5 * time.Minute
	acctBurst          = 5
	acctInterval       = 30 * time.Second
	acctPerAddr        = 2
	maxChargedAddrs    = 64
	knownTTL           = 30 * 24 * time.Hour
	maxKnownAddrs      = 16
	maxThrottleEntries = 100000
)

type addrState struct {
	n     int
	until time.Time
}

type acctState struct {
	tokens float64
	at     time.Time            // when tokens was last brought up to date
	known  map[string]time.Time // address → last successful login
	// charged counts the attempts each address drew from the budget since it was last full.
	charged map[string]int
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{addrs: map[string]*addrState{}, accounts: map[string]*acctState{}, now: time.Now, limit: maxThrottleEntries}
}

// throttleAddr is the key of a source address: the address, or its /64 for IPv6.
func throttleAddr(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func accountKey(tenant, email string) string {
	return strings.ToLower(strings.TrimSpace(tenant)) + "\x00" + strings.ToLower(strings.TrimSpace(email))
}

// addrAllowed reports whether an address may try at all (checked before the body is read),
// and if not, when it may again.
func (t *loginThrottle) addrAllowed(ip string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if e := t.addrs[throttleAddr(ip)]; e != nil && e.n >= addrFailures && now.Before(e.until) {
		return false, e.until.Sub(now)
	}
	return true, 0
}

// begin counts an attempt from ip on an account before its password is checked, and reports
// whether it may go on and, if not, when to try again.
func (t *loginThrottle) begin(ip, account string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	ak := throttleAddr(ip)
	e := t.addrs[ak]
	if e != nil && e.n >= addrFailures && now.Before(e.until) {
		return false, e.until.Sub(now)
	}
	a := t.accounts[account]
	if a == nil {
		if len(t.accounts) >= t.limit {
			t.pruneAccounts(now)
		}
		a = &acctState{tokens: acctBurst, at: now}
		t.accounts[account] = a
	}
	if seen, ok := a.known[ak]; !ok || now.Sub(seen) > knownTTL {
		a.tokens = min(acctBurst, a.tokens+now.Sub(a.at).Seconds()/acctInterval.Seconds())
		a.at = now
		if a.tokens == acctBurst {
			a.charged = nil
		}
		switch {
		case a.charged[ak] >= acctPerAddr:
			// This address has had its share; its own budget limits it from here.
		case a.tokens < 1:
			return false, time.Duration((1 - a.tokens) * float64(acctInterval))
		default:
			a.tokens--
			if a.charged == nil {
				a.charged = map[string]int{}
			}
			if len(a.charged) < maxChargedAddrs {
				a.charged[ak]++
			}
		}
	}
	if e == nil || !now.Before(e.until) {
		if len(t.addrs) >= t.limit {
			t.pruneAddrs(now)
		}
		e = &addrState{}
		t.addrs[ak] = e
	}
	e.n++
	e.until = now.Add(addrWindow)
	return true, 0
}

// succeeded clears the address's count and makes it a known address of the account.
func (t *loginThrottle) succeeded(ip, account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ak := throttleAddr(ip)
	delete(t.addrs, ak)
	a := t.accounts[account]
	if a == nil {
		return
	}
	now := t.now()
	if a.known == nil {
		a.known = map[string]time.Time{}
	}
	if _, ok := a.known[ak]; !ok && len(a.known) >= maxKnownAddrs {
		oldest := ""
		for k, at := range a.known {
			if oldest == "" || at.Before(a.known[oldest]) {
				oldest = k
			}
		}
		delete(a.known, oldest)
	}
	// The successful attempt gives back what it drew, but the budget is not refilled: the
	// owner logging in does not end someone else's guessing.
	if a.charged[ak] > 0 {
		a.charged[ak]--
		a.tokens = min(acctBurst, a.tokens+1)
	}
	a.known[ak] = now
}

// pruneAddrs drops expired address entries, and half of the rest when that is not enough
// (under a spread-out flood losing some counts beats unbounded memory).
func (t *loginThrottle) pruneAddrs(now time.Time) {
	for k, e := range t.addrs {
		if !now.Before(e.until) {
			delete(t.addrs, k)
		}
	}
	for k := range t.addrs {
		if len(t.addrs) < t.limit/2 {
			break
		}
		delete(t.addrs, k)
	}
}

// pruneAccounts drops accounts whose budget is full again and that have no known address,
// then, when that is not enough, half of the rest.
func (t *loginThrottle) pruneAccounts(now time.Time) {
	for k, a := range t.accounts {
		if len(a.known) == 0 && a.tokens+now.Sub(a.at).Seconds()/acctInterval.Seconds() >= acctBurst {
			delete(t.accounts, k)
		}
	}
	for k := range t.accounts {
		if len(t.accounts) < t.limit/2 {
			break
		}
		delete(t.accounts, k)
	}
}
