package sip

import (
	"hash/maphash"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Policy holds the protections and timers of the SIP core. The defaults (DefaultPolicy) suit
// a production PBX; tests and benchmarks replace it with Server.SetPolicy.
type Policy struct {
	// MaxMessageSize is the largest SIP message accepted, in bytes. Larger UDP datagrams are
	// dropped; a larger message on a stream closes the connection.
	MaxMessageSize int
	// RatePerSource and BurstPerSource are the per-source token bucket: messages per second
	// and the bucket size. Messages beyond it are dropped (UDP) or close the connection.
	RatePerSource  float64
	BurstPerSource float64
	// RateExempt lists the trusted sources (configuration: sip.trusted_sources), which the
	// rate limit does not apply to: a co-located load balancer such as Kamailio, or the
	// benchmarks on loopback. Bans still apply to them.
	RateExempt []netip.Prefix
	// MaxSources bounds the sources the guard keeps state for. A new source beyond it takes
	// the place of one that holds no ban and never authenticated, the idlest of a few.
	MaxSources int
	// BanTime is how long a banned source gets no answer at all.
	BanTime time.Duration
	// AuthFailures failed digest responses from one source within AuthWindow ban it.
	AuthFailures int
	AuthWindow   time.Duration
	// UnknownTargets requests from one source for distinct unknown users or numbers within
	// AuthWindow ban it (extension enumeration, as svwar does).
	UnknownTargets int
	// AccountFailures failed digest responses for one account within AccountWindow, from
	// any number of sources, exhaust its budget: from then on each further failure for it
	// bans its source at once. This catches guessing too slow for AuthFailures per source
	// (the owner's phones, which do not fail, go on working).
	AccountFailures int
	AccountWindow   time.Duration
	// VouchTime is how long a source that authenticated (it answered a challenge, so it
	// is not spoofed) is spared bans on evidence that a spoofed UDP datagram can carry.
	VouchTime time.Duration
	// ScannerAgents are User-Agent substrings (case-insensitive) that ban a source at once.
	ScannerAgents []string
	// KeyByPort keys limits and bans by source IP and port instead of by IP. Off in
	// production: a scanner changes ports for free. (The integration tests keep it off too and
	// put the legitimate client on 127.0.0.2, so that the production behaviour is what is tested.)
	KeyByPort bool

	// MinExpires and MaxExpires bound registration intervals (seconds); DefaultExpires is used
	// when the REGISTER names none. MaxContacts bounds the contacts of one address of record.
	MinExpires, MaxExpires, DefaultExpires int
	MaxContacts                            int
	// NoAnswer is how long an unanswered call rings before it is given up with 480.
	NoAnswer time.Duration
	// MinSE is the smallest session interval accepted (RFC 4028 Min-SE); SessionExpires is
	// the interval granted to callers that ask for session timers without naming one.
	MinSE, SessionExpires time.Duration
	// NonceLifetime is how long a digest nonce is accepted; an older one gets stale=true.
	NonceLifetime time.Duration
	// DigestAlgorithms are the challenges offered, one header each, in this order ("MD5",
	// "SHA-256"). Responses in either algorithm are verified whatever is offered, against
	// the HA1 of that algorithm. The default offers MD5 alone, as Asterisk, FreeSWITCH and
	// Kamailio do by default: deployed phones break on SHA-256 challenges in different ways
	// (baresip 1.0/libre 1.1 fails the whole registration when any challenge names another
	// algorithm; sipp 3.6 answers the first challenge only and aborts on SHA-256). With
	// {"SHA-256", "MD5"} Privox challenges as RFC 8760 asks, preferred algorithm first.
	DigestAlgorithms []string
	// MaxConnections caps the TCP, TLS and WebSocket connections together; the cap in force
	// is never above three quarters of the descriptor limit (RLIMIT_NOFILE). Connections
	// beyond it are closed as they are accepted.
	MaxConnections int
	// StreamReadTimeout is how long a connection may take to deliver its first message, and
	// a started message to complete (slow senders); StreamIdleTimeout closes a connection that
	// sends nothing at all for that long. It exceeds MaxExpires, so a phone that re-registers
	// over its connection keeps it without keep-alives.
	StreamReadTimeout, StreamIdleTimeout time.Duration
	// CredentialTTL bounds how long a cached SIP secret is used without asking the store
	// (changes are also polled every CredentialPoll); UnknownUserTTL is the negative cache.
	CredentialTTL, UnknownUserTTL, CredentialPoll time.Duration
}

// DefaultPolicy returns the production defaults.
func DefaultPolicy() Policy {
	return Policy{
		MaxMessageSize:  16 << 10,
		RatePerSource:   100,
		BurstPerSource:  300,
		RateExempt:      []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		MaxSources:      1 << 16,
		BanTime:         15 * time.Minute,
		AuthFailures:    10,
		AuthWindow:      time.Minute,
		UnknownTargets:  20,
		AccountFailures: 20,
		AccountWindow:   time.Hour,
		VouchTime:       2 * time.Hour,
		ScannerAgents: []string{"friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sipscan", "sundayddr", "iwar",
			"sivus", "vaxsipuseragent", "vaxipuseragent", "pplsip", "smap", "sipsak-scan", "voipbuster-scan"},
		MinExpires:        60,
		MaxExpires:        3600,
		DefaultExpires:    3600,
		MaxContacts:       10,
		NoAnswer:          60 * time.Second,
		MinSE:             90 * time.Second,
		SessionExpires:    1800 * time.Second,
		NonceLifetime:     5 * time.Minute,
		DigestAlgorithms:  []string{algMD5},
		MaxConnections:    10000,
		StreamReadTimeout: 30 * time.Second,
		StreamIdleTimeout: 65 * time.Minute,
		CredentialTTL:     60 * time.Second,
		UnknownUserTTL:    10 * time.Second,
		CredentialPoll:    2 * time.Second,
	}
}

// verdict is the guard's decision on one message or connection.
type verdict int

const (
	pass verdict = iota
	dropBanned
	dropRate
)

// guard keeps per-source state: the token bucket, authentication failures, probes for
// unknown users, bans, and whether the source authenticated. It is sharded so that the
// per-datagram check rarely contends. IPv6 sources are keyed by their /64 (one host's share
// of addresses). Per-account failure budgets live beside it.
type guard struct {
	policy func() *Policy
	log    *slog.Logger
	seed   maphash.Seed
	shards [guardShards]guardShard
	now    func() time.Time

	acctMu sync.Mutex
	accts  map[accountKey]*accountBudget

	banned, limited atomic.Uint64 // dropped messages, for metrics and tests
}

const guardShards = 64

type guardShard struct {
	mu      sync.Mutex
	sources map[netip.AddrPort]*sourceState
}

type sourceState struct {
	tokens      float64
	last        time.Time
	bannedUntil time.Time
	// vouchedUntil: the source authenticated; spoofable evidence does not ban it until then.
	vouchedUntil time.Time
	// authentication failures and unknown targets within the current window
	windowStart time.Time
	authFails   int
	unknown     map[string]struct{}
}

func newGuard(policy func() *Policy, log *slog.Logger) *guard {
	g := &guard{policy: policy, log: log, seed: maphash.MakeSeed(), now: time.Now}
	for i := range g.shards {
		g.shards[i].sources = make(map[netip.AddrPort]*sourceState)
	}
	return g
}

func (g *guard) key(src netip.AddrPort, p *Policy) netip.AddrPort {
	addr := src.Addr().Unmap()
	if addr.Is6() {
		// One IPv6 host has a /64 to choose addresses from.
		addr = netip.PrefixFrom(addr, 64).Masked().Addr()
	}
	if p.KeyByPort {
		return netip.AddrPortFrom(addr, src.Port())
	}
	return netip.AddrPortFrom(addr, 0)
}

// source returns what every per-source check starts from: the policy in force, the source's
// key under it, its shard, and the time.
func (g *guard) source(src netip.AddrPort) (*Policy, netip.AddrPort, *guardShard, time.Time) {
	p := g.policy()
	k := g.key(src, p)
	return p, k, g.shard(k), g.now()
}

func (g *guard) shard(k netip.AddrPort) *guardShard {
	b := k.Addr().As16()
	h := maphash.Bytes(g.seed, b[:]) ^ uint64(k.Port())*0x9e3779b97f4a7c15
	return &g.shards[h%uint64(len(g.shards))]
}

func exempt(p *Policy, a netip.Addr) bool {
	for _, pf := range p.RateExempt {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// admit decides whether a message (or a new connection) from src is processed.
func (g *guard) admit(src netip.AddrPort) verdict {
	p, k, sh, now := g.source(src)
	limit := !exempt(p, k.Addr())
	sh.mu.Lock()
	st := sh.sources[k]
	if st == nil {
		if !limit {
			sh.mu.Unlock()
			return pass
		}
		st = &sourceState{tokens: p.BurstPerSource, last: now}
		sh.add(k, st, p)
	}
	if now.Before(st.bannedUntil) {
		sh.mu.Unlock()
		g.banned.Add(1)
		return dropBanned
	}
	if limit {
		st.tokens += now.Sub(st.last).Seconds() * p.RatePerSource
		if st.tokens > p.BurstPerSource {
			st.tokens = p.BurstPerSource
		}
		st.last = now
		if st.tokens < 1 {
			sh.mu.Unlock()
			g.limited.Add(1)
			return dropRate
		}
		st.tokens--
	}
	sh.mu.Unlock()
	return pass
}

// isBanned reports whether src is banned now.
func (g *guard) isBanned(src netip.AddrPort) bool {
	_, k, sh, now := g.source(src)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.sources[k]
	return st != nil && now.Before(st.bannedUntil)
}

// state returns the source's state, creating it (caller holds sh.mu).
func (sh *guardShard) state(k netip.AddrPort, now time.Time, p *Policy) *sourceState {
	st := sh.sources[k]
	if st == nil {
		st = &sourceState{last: now, tokens: p.BurstPerSource}
		sh.add(k, st, p)
	}
	return st
}

// add stores a new source's state, making room first when the shard holds its share of
// MaxSources (caller holds sh.mu). Of a few entries (map order is random), the one that
// weighs least goes: a plain one before one that holds a ban, before one that authenticated;
// among equals the idlest.
func (sh *guardShard) add(k netip.AddrPort, st *sourceState, p *Policy) {
	if p.MaxSources > 0 && len(sh.sources) >= max(p.MaxSources/guardShards, 1) {
		var victim netip.AddrPort
		var vst *sourceState
		n := 0
		for vk, v := range sh.sources {
			if vst == nil || v.weight(st.last) < vst.weight(st.last) ||
				v.weight(st.last) == vst.weight(st.last) && v.last.Before(vst.last) {
				victim, vst = vk, v
			}
			if n++; n >= 8 {
				break
			}
		}
		delete(sh.sources, victim)
	}
	sh.sources[k] = st
}

func (st *sourceState) weight(now time.Time) int {
	switch {
	case now.Before(st.vouchedUntil):
		return 2
	case now.Before(st.bannedUntil):
		return 1
	}
	return 0
}

// size returns the number of sources with state (tests).
func (g *guard) size() int {
	n := 0
	for i := range g.shards {
		g.shards[i].mu.Lock()
		n += len(g.shards[i].sources)
		g.shards[i].mu.Unlock()
	}
	return n
}

// vouch records that src authenticated: it answered a challenge, so it receives what is sent
// to it, and a datagram bearing its address is not necessarily its own.
func (g *guard) vouch(src netip.AddrPort) {
	p, k, sh, now := g.source(src)
	sh.mu.Lock()
	sh.state(k, now, p).vouchedUntil = now.Add(p.VouchTime)
	sh.mu.Unlock()
}

// vouched reports whether src authenticated recently.
func (g *guard) vouched(src netip.AddrPort) bool {
	_, k, sh, now := g.source(src)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.sources[k]
	return st != nil && now.Before(st.vouchedUntil)
}

func (st *sourceState) window(now time.Time, d time.Duration) {
	if now.Sub(st.windowStart) > d {
		st.windowStart = now
		st.authFails = 0
		st.unknown = nil
	}
}

// ban bans src for the policy's ban time. With spoofable set (evidence from one UDP datagram,
// whose source address anyone can write), a source that authenticated recently is spared:
// otherwise one forged datagram would lock a phone out. It reports whether src is banned.
func (g *guard) ban(src netip.AddrPort, reason string, spoofable bool) bool {
	p, k, sh, now := g.source(src)
	sh.mu.Lock()
	st := sh.state(k, now, p)
	if spoofable && now.Before(st.vouchedUntil) {
		sh.mu.Unlock()
		g.log.Debug("sip source not banned: it authenticated recently", "peer", k.Addr().String(), "reason", reason)
		return false
	}
	already := now.Before(st.bannedUntil)
	st.bannedUntil = now.Add(p.BanTime)
	sh.mu.Unlock()
	if !already {
		g.log.Warn("sip source banned", "peer", k.Addr().String(), "reason", reason, "for", p.BanTime.String())
	}
	return true
}

// authFailed records a failed digest response from src for an account (nil when the user
// is unknown) over a transport; it returns true when the source got banned.
func (g *guard) authFailed(src netip.AddrPort, acct *account, transport string) bool {
	p, k, sh, now := g.source(src)
	sh.mu.Lock()
	st := sh.state(k, now, p)
	st.window(now, p.AuthWindow)
	st.authFails++
	n := st.authFails
	sh.mu.Unlock()
	spoofable := transport == tpUDP
	if p.AuthFailures > 0 && n >= p.AuthFailures {
		return g.ban(src, "repeated authentication failures", spoofable)
	}
	if acct != nil && g.accountFailed(acct, now, p) {
		return g.ban(src, "failed authentication for an account out of failure budget", spoofable)
	}
	return false
}

type accountKey struct {
	tenant int64
	user   string
}

type accountBudget struct {
	windowStart time.Time
	fails       int
}

// maxAccountBudgets bounds the accounts with failures on record (only existing accounts get
// one); beyond it the record starts afresh.
const maxAccountBudgets = 1 << 16

// accountFailed counts a failure against an account's budget and reports whether the budget
// is exhausted.
func (g *guard) accountFailed(acct *account, now time.Time, p *Policy) bool {
	if p.AccountFailures <= 0 {
		return false
	}
	k := accountKey{acct.tenantID, acct.username}
	g.acctMu.Lock()
	defer g.acctMu.Unlock()
	if g.accts == nil || len(g.accts) >= maxAccountBudgets {
		g.accts = make(map[accountKey]*accountBudget)
	}
	b := g.accts[k]
	if b == nil || now.Sub(b.windowStart) > p.AccountWindow {
		b = &accountBudget{windowStart: now}
		g.accts[k] = b
	}
	b.fails++
	if b.fails == p.AccountFailures {
		g.log.Warn("sip account out of authentication failure budget", "tenant", acct.tenantID, "user", acct.username,
			"failures", b.fails, "within", p.AccountWindow.String())
	}
	return b.fails >= p.AccountFailures
}

// unknownTarget records a request for a user or number that does not exist; it returns true
// when the source got banned for enumerating.
func (g *guard) unknownTarget(src netip.AddrPort, target, transport string) bool {
	p, k, sh, now := g.source(src)
	sh.mu.Lock()
	st := sh.state(k, now, p)
	st.window(now, p.AuthWindow)
	if st.unknown == nil {
		st.unknown = make(map[string]struct{})
	}
	if len(target) > 64 {
		target = target[:64]
	}
	st.unknown[target] = struct{}{}
	n := len(st.unknown)
	sh.mu.Unlock()
	if p.UnknownTargets > 0 && n >= p.UnknownTargets {
		return g.ban(src, "probing for extensions", transport == tpUDP)
	}
	return false
}

// scanner reports whether a User-Agent belongs to a known scanner.
func (g *guard) scanner(ua string) bool {
	if ua == "" {
		return false
	}
	l := strings.ToLower(ua)
	for _, s := range g.policy().ScannerAgents {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// sweep forgets idle sources whose ban has expired.
func (g *guard) sweep() {
	now := g.now()
	for i := range g.shards {
		sh := &g.shards[i]
		sh.mu.Lock()
		for k, st := range sh.sources {
			if now.After(st.bannedUntil) && now.After(st.vouchedUntil) && now.Sub(st.last) > 10*time.Minute && now.Sub(st.windowStart) > 10*time.Minute {
				delete(sh.sources, k)
			}
		}
		sh.mu.Unlock()
	}
	p := g.policy()
	g.acctMu.Lock()
	for k, b := range g.accts {
		if now.Sub(b.windowStart) > p.AccountWindow {
			delete(g.accts, k)
		}
	}
	g.acctMu.Unlock()
}
