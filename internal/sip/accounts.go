package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
)

// account is an extension as the SIP core needs it: its number, its SIP user name, its owner
// and its digest secret. Held in memory by the account cache; never logged.
type account struct {
	tenantID  int64
	extID     int64
	userID    int64 // 0 when the extension has no owner
	number    string
	username  string
	display   string
	realm     string
	ha1MD5    string
	ha1SHA256 string
	// trunk names the trunk a caller from outside called in on (number is then the
	// caller's number in E.164), did the number it dialled; such an account is no
	// extension.
	trunk, did string
}

func (a *account) userPtr() *int64 {
	if a == nil || a.userID == 0 {
		return nil
	}
	id := a.userID
	return &id
}

// accounts caches extensions by SIP user name and by number, and tenants by SIP domain, so
// that a REGISTER or INVITE normally reaches no database. Entries live at most CredentialTTL
// (UnknownUserTTL for names that do not exist); a poll of changed secrets every
// CredentialPoll drops entries whose password changed, so a new password applies within
// seconds. A deleted extension stops authenticating when its entry expires.
type accounts struct {
	db      *store.DB
	secrets SecretOpener
	policy  func() *Policy
	now     func() time.Time

	mu       sync.RWMutex
	byUser   map[acctKey]acctEntry
	byNumber map[acctKey]acctEntry
	tenants  map[string]tenantEntry // SIP domain ("" = first tenant) → tenant
	since    int64                  // unix ms of the newest secret change seen by the poll
	// refreshing names the entries being reloaded ahead of their expiry.
	refreshing map[acctKey]bool
}

type acctKey struct {
	tenant int64
	name   string
}

type acctEntry struct {
	acct    *account // nil: no such extension
	fetched time.Time
}

type tenantEntry struct {
	t       store.Tenant
	ok      bool
	fetched time.Time
}

func newAccounts(db *store.DB, secrets SecretOpener, policy func() *Policy) *accounts {
	return &accounts{db: db, secrets: secrets, policy: policy, now: time.Now, byUser: map[acctKey]acctEntry{}, byNumber: map[acctKey]acctEntry{},
		tenants: map[string]tenantEntry{}, since: store.Now()}
}

func (c *accounts) fresh(e acctEntry, now time.Time) bool {
	p := c.policy()
	ttl := p.CredentialTTL
	if e.acct == nil {
		ttl = p.UnknownUserTTL
	}
	return now.Sub(e.fetched) < ttl
}

// cachedUser returns a fresh cache entry for a SIP user name without asking the store. An
// entry past half its lifetime is refreshed in the background while it is still served, so
// that phones re-registering steadily never wait for the store, and the entries of a crowd
// that registered together do not all expire in the same second.
func (c *accounts) cachedUser(tenantID int64, username string) (*account, bool) {
	k := acctKey{tenantID, username}
	c.mu.RLock()
	e, ok := c.byUser[k]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	now := c.now()
	if !c.fresh(e, now) {
		return nil, false
	}
	if e.acct != nil && now.Sub(e.fetched) > c.policy().CredentialTTL/2 {
		c.refreshAhead(k)
	}
	return e.acct, true
}

// refreshAhead reloads one account in the background, at most one at a time per account and
// maxRefreshing in all (beyond that the entry is simply loaded when it expires).
func (c *accounts) refreshAhead(k acctKey) {
	c.mu.Lock()
	if c.refreshing == nil {
		c.refreshing = map[acctKey]bool{}
	}
	if c.refreshing[k] || len(c.refreshing) >= maxRefreshing {
		c.mu.Unlock()
		return
	}
	c.refreshing[k] = true
	c.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.loadUser(ctx, k.tenant, k.name)
		c.mu.Lock()
		delete(c.refreshing, k)
		c.mu.Unlock()
	}()
}

const maxRefreshing = 32

// cachedNumber returns a fresh cache entry for a number without asking the store.
func (c *accounts) cachedNumber(tenantID int64, number string) (*account, bool) {
	c.mu.RLock()
	e, ok := c.byNumber[acctKey{tenantID, number}]
	c.mu.RUnlock()
	if ok && c.fresh(e, c.now()) {
		return e.acct, true
	}
	return nil, false
}

// cachedTenant returns the tenant of a SIP domain when the answer is cached.
func (c *accounts) cachedTenant(domain string) (store.Tenant, bool) {
	domain = normDomain(domain)
	c.mu.RLock()
	e, ok := c.tenants[domain]
	if ok && !e.ok && domain != "" {
		e, ok = c.tenants[""]
	}
	c.mu.RUnlock()
	if ok && e.ok && c.now().Sub(e.fetched) < c.policy().UnknownUserTTL {
		return e.t, true
	}
	return store.Tenant{}, false
}

func normDomain(domain string) string {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if _, err := netip.ParseAddr(strings.Trim(domain, "[]")); err == nil {
		return ""
	}
	return domain
}

// byUsername returns the extension with a SIP user name, nil when there is none.
func (c *accounts) byUsername(ctx context.Context, tenantID int64, username string) (*account, error) {
	if a, ok := c.cachedUser(tenantID, username); ok {
		return a, nil
	}
	return c.loadUser(ctx, tenantID, username)
}

// loadUser reads an extension by SIP user name from the store into the cache.
func (c *accounts) loadUser(ctx context.Context, tenantID int64, username string) (*account, error) {
	k := acctKey{tenantID, username}
	now := c.now()
	ext, sec, err := c.db.ExtensionByUsername(ctx, tenantID, username)
	var a *account
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		a = accountOf(ext)
		a.realm = sec.Realm
		if a.ha1MD5, a.ha1SHA256, err = c.open(ext, sec); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	c.byUser[k] = acctEntry{acct: a, fetched: now}
	c.mu.Unlock()
	return a, nil
}

// SecretOpener opens a secret the store keeps sealed with the tenant's key (keys.Vault).
type SecretOpener interface {
	OpenSecret(tenantID int64, binding, sealed string) (string, error)
}

// open returns an extension's HA1 values in clear; they stay in the cache's memory only.
func (c *accounts) open(ext store.Extension, sec store.SIPSecret) (md5, sha256 string, err error) {
	if c.secrets == nil {
		return "", "", errors.New("sip: no key vault to open SIP secrets with")
	}
	if md5, err = c.secrets.OpenSecret(ext.TenantID, store.SIPSecretBinding(ext.ID, "ha1_md5"), sec.HA1MD5); err != nil {
		return "", "", fmt.Errorf("sip: secret of extension %d: %w", ext.ID, err)
	}
	if sha256, err = c.secrets.OpenSecret(ext.TenantID, store.SIPSecretBinding(ext.ID, "ha1_sha256"), sec.HA1SHA256); err != nil {
		return "", "", fmt.Errorf("sip: secret of extension %d: %w", ext.ID, err)
	}
	return md5, sha256, nil
}

// accountOf is an extension as the SIP core knows it, without its secret.
func accountOf(ext store.Extension) *account {
	a := &account{tenantID: ext.TenantID, extID: ext.ID, number: ext.Number, username: ext.SIPUsername, display: ext.DisplayName}
	if ext.UserID != nil {
		a.userID = *ext.UserID
	}
	return a
}

// byNum returns the extension with a number, nil when there is none. The returned account
// has no secret unless it came from a user-name lookup.
func (c *accounts) byNum(ctx context.Context, tenantID int64, number string) (*account, error) {
	if a, ok := c.cachedNumber(tenantID, number); ok {
		return a, nil
	}
	k := acctKey{tenantID, number}
	now := c.now()
	ext, err := c.db.ExtensionByNumber(ctx, tenantID, number)
	var a *account
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		a = accountOf(ext)
	}
	c.mu.Lock()
	c.byNumber[k] = acctEntry{acct: a, fetched: now}
	c.mu.Unlock()
	return a, nil
}

// tenant returns the tenant serving a SIP domain, or the installation's first tenant when no
// tenant claims the domain (IP addresses, "localhost", an unconfigured name).
func (c *accounts) tenant(ctx context.Context, domain string) (store.Tenant, bool, error) {
	domain = normDomain(domain)
	now := c.now()
	c.mu.RLock()
	e, ok := c.tenants[domain]
	c.mu.RUnlock()
	if ok && now.Sub(e.fetched) < c.policy().UnknownUserTTL {
		if e.ok || domain == "" {
			return e.t, e.ok, nil
		}
		return c.tenant(ctx, "")
	}
	var t store.Tenant
	var err error
	if domain != "" {
		t, err = c.db.TenantBySIPDomain(ctx, domain)
	} else {
		t, err = c.db.FirstTenant(ctx)
	}
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return t, false, err
	}
	c.mu.Lock()
	c.tenants[domain] = tenantEntry{t: t, ok: found, fetched: now}
	c.mu.Unlock()
	if !found && domain != "" {
		return c.tenant(ctx, "")
	}
	return t, found, nil
}

// realm is the digest realm of a tenant.
func realmOf(t store.Tenant) string { return tenancy.Realm(t) }

// poll drops the entries of accounts whose secret changed since the last poll, and expired
// entries, so the maps do not grow with scanners' guesses.
func (c *accounts) poll(ctx context.Context) error {
	c.mu.RLock()
	since := c.since
	c.mu.RUnlock()
	changed, err := c.db.SIPSecretsChangedSince(ctx, since)
	if err != nil {
		return err
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range changed {
		delete(c.byUser, acctKey{ch.TenantID, ch.Username})
		if ch.UpdatedAt > c.since {
			c.since = ch.UpdatedAt
		}
	}
	if len(changed) > 0 {
		// Numbers of changed accounts are few; a new extension also ends the negative
		// entry of its number.
		for k, e := range c.byNumber {
			if e.acct == nil {
				delete(c.byNumber, k)
			}
		}
		for k, e := range c.tenants {
			if !e.ok {
				delete(c.tenants, k)
			}
		}
	}
	for k, e := range c.byUser {
		if !c.fresh(e, now) {
			delete(c.byUser, k)
		}
	}
	for k, e := range c.byNumber {
		if !c.fresh(e, now) {
			delete(c.byNumber, k)
		}
	}
	return nil
}
