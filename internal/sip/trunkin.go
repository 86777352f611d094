package sip

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
)

// Calls from trunks. A provider's INVITE carries no credentials: the trunk is recognised by
// where the INVITE comes from (an IP-authenticated trunk's allowed addresses; a registering
// trunk's server and failover server), and the trunk names the tenant. The dial plan routes
// the call by its DID (the Request-URI's or the To header's user, per trunk); the caller's
// number is read as E.164 for the CDR and the journal. An INVITE without credentials from
// any other address is challenged as before, so calls from unknown sources stay refused.

// The trunks' source addresses are read with every trunk poll (trunkPoll). Over UDP, an
// INVITE without credentials from an address they do not name is challenged statelessly on
// the read loop, as before; on the full path (TCP, TLS, or a UDP INVITE from a trunk's
// address) they are used for trunkIndexAge and a miss reads them again at most once per
// trunkIndexMiss, so a flood of INVITEs from unknown addresses costs at most one query a
// second.
const (
	trunkIndexAge  = 30 * time.Second
	trunkIndexMiss = time.Second
)

type trunkSource struct {
	prefix netip.Prefix
	trunk  store.Trunk
}

type trunkIndex struct {
	s       *Server
	dids    dialplan.DIDs
	mu      sync.Mutex // one rebuild at a time
	current atomic.Pointer[trunkSnapshot]
}

type trunkSnapshot struct {
	built   time.Time
	sources []trunkSource
}

func newTrunkIndex(s *Server, dids dialplan.DIDs) *trunkIndex {
	return &trunkIndex{s: s, dids: dids}
}

// lookup finds the trunk an address belongs to.
func (x *trunkIndex) lookup(ctx context.Context, src netip.Addr) (store.Trunk, bool) {
	src = src.Unmap()
	snap := x.current.Load()
	if snap != nil {
		if t, ok := snap.find(src); ok && time.Since(snap.built) < trunkIndexAge {
			return t, true
		}
	}
	if snap != nil && time.Since(snap.built) < trunkIndexMiss {
		return store.Trunk{}, false
	}
	if !x.mu.TryLock() {
		if snap == nil {
			return store.Trunk{}, false
		}
		return snap.find(src) // another INVITE is rebuilding it
	}
	defer x.mu.Unlock()
	if n := x.current.Load(); n != snap {
		return n.find(src)
	}
	n, err := x.build(ctx)
	if err != nil {
		x.s.log.Warn("trunk source addresses not read", "err", err)
		if snap == nil {
			return store.Trunk{}, false
		}
		return snap.find(src)
	}
	x.current.Store(n)
	return n.find(src)
}

// mayBeTrunk reports, without blocking, whether an address is a trunk's as far as the
// addresses last read say (the trunk poll reads them every few seconds). Nil-safe.
func (x *trunkIndex) mayBeTrunk(src netip.Addr) bool {
	if x == nil {
		return false
	}
	snap := x.current.Load()
	if snap == nil {
		return false
	}
	_, ok := snap.find(src.Unmap())
	return ok
}

// refresh reads the trunks' addresses again (the trunk poll calls it). Nil-safe.
func (x *trunkIndex) refresh(ctx context.Context) {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	n, err := x.build(ctx)
	if err != nil {
		x.s.log.Warn("trunk source addresses not read", "err", err)
		return
	}
	x.current.Store(n)
}

func (n *trunkSnapshot) find(src netip.Addr) (store.Trunk, bool) {
	for _, e := range n.sources {
		if e.prefix.Contains(src) {
			return e.trunk, true
		}
	}
	return store.Trunk{}, false
}

// build reads every tenant's trunks and their source addresses; a registering trunk's
// server names are resolved here, not per call.
func (x *trunkIndex) build(ctx context.Context) (*trunkSnapshot, error) {
	ts, err := x.s.db.ListTrunks(ctx, 0)
	if err != nil {
		return nil, err
	}
	n := &trunkSnapshot{built: time.Now()}
	for _, t := range ts {
		switch t.Kind {
		case dialplan.TrunkIP:
			for _, p := range t.AllowedSources {
				if pfx, err := netip.ParsePrefix(p); err == nil {
					n.sources = append(n.sources, trunkSource{pfx.Masked(), t})
				}
			}
		case dialplan.TrunkRegister:
			for _, srv := range []string{t.Server, t.Failover} {
				host, _, err := net.SplitHostPort(srv)
				if err != nil {
					continue
				}
				rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
				cancel()
				if err != nil {
					x.s.log.Info("trunk server not resolved", "tenant", t.TenantID, "trunk", t.Name, "err", err)
					continue
				}
				for _, a := range addrs {
					a = a.Unmap()
					n.sources = append(n.sources, trunkSource{netip.PrefixFrom(a, a.BitLen()), t})
				}
			}
		}
	}
	// The most specific prefix wins when trunks' addresses overlap.
	for i := 1; i < len(n.sources); i++ {
		for j := i; j > 0 && n.sources[j].prefix.Bits() > n.sources[j-1].prefix.Bits(); j-- {
			n.sources[j], n.sources[j-1] = n.sources[j-1], n.sources[j]
		}
	}
	return n, nil
}

// fromTrunk reports whether an INVITE is a call from a trunk, and if so runs it. An INVITE
// with credentials is a phone's, whatever its address.
func (s *Server) fromTrunk(in *inbound, tx sip.ServerTransaction) bool {
	req := in.req
	if s.trunkIn == nil || req.GetHeader("Proxy-Authorization") != nil || req.GetHeader("Authorization") != nil || !in.src.IsValid() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t, ok := s.trunkIn.lookup(ctx, in.src.Addr())
	if !ok {
		return false
	}
	s.handleTrunkInvite(ctx, in, tx, t)
	return true
}

// callerNumber is the caller's number a trunk's INVITE carries: the asserted identity from
// a trusted trunk, else the From user; "anonymous" when the caller withholds it.
func callerNumber(req *sip.Request, trusted bool) (number, display string) {
	if from := req.From(); from != nil {
		number, display = from.Address.User, from.DisplayName
	}
	if trusted {
		if h := req.GetHeader("P-Asserted-Identity"); h != nil {
			var u sip.Uri
			v := strings.TrimSpace(h.Value())
			if i := strings.IndexByte(v, '<'); i >= 0 {
				if j := strings.IndexByte(v[i:], '>'); j > 0 {
					v = v[i+1 : i+j]
				}
			}
			if err := sip.ParseUri(v, &u); err == nil && u.User != "" {
				number = u.User
			}
		}
	}
	if h := req.GetHeader("Privacy"); h != nil && (strings.Contains(h.Value(), "id") || strings.Contains(h.Value(), "user")) {
		number = "anonymous"
	}
	if number == "" || strings.EqualFold(number, "anonymous") {
		return "anonymous", ""
	}
	return number, display
}

// handleTrunkInvite runs an INVITE from a trunk: as handleInvite after authentication, with
// the trunk's tenant, the DID as the dialled number and the caller from outside.
func (s *Server) handleTrunkInvite(ctx context.Context, in *inbound, tx sip.ServerTransaction, tr store.Trunk) {
	req := in.req
	respond := func(res *sip.Response) {
		if err := tx.Respond(res); err != nil {
			s.log.Debug("respond to INVITE", "err", err, "call_id", req.CallID().Value())
		}
	}
	t, err := s.db.Tenant(ctx, tr.TenantID)
	if err != nil {
		s.log.Error("invite from trunk: tenant", "err", err, "trunk", tr.Name)
		respond(s.reply(req, 500, "Server Internal Error"))
		return
	}
	did := req.Recipient.User
	if tr.DIDFrom == "to" {
		if to := req.To(); to != nil {
			did = to.Address.User
		}
	}
	if did == "" {
		respond(s.reply(req, 484, "Address Incomplete"))
		return
	}
	country := ""
	if s.trunkIn.dids != nil {
		if dt, err := s.trunkIn.dids.DIDTable(ctx, t.ID); err == nil {
			country = dt.Country
		}
	}
	number, display := callerNumber(req, tr.Trusted)
	if number != "anonymous" {
		number = dialplan.NormaliseNumber(number, country)
	}
	caller := &account{tenantID: t.ID, number: number, display: display, trunk: tr.Name, did: did}
	realm := realmOf(t)

	c := &call{tenant: t, realm: realm, caller: caller, dialed: did, trunk: tr.Name}
	c.log = s.log.With("call_id", req.CallID().Value(), "tenant", t.ID, "trunk", tr.Name)
	s.runInvite(ctx, in, tx, respond, c)
}
