package sip

import (
	"hash/maphash"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unique"
)

// The location service: for each address of record (an extension of a tenant) the contacts
// where it is registered. It lives in memory, sharded by AOR, and is sized for 100,000
// contacts in well under 100 MB: a binding holds its contact URI, Call-ID, source address and
// a handle on an interned User-Agent string (phones of one model share it). Expired bindings
// are never returned; a sweep drops them from memory and from the store.

// transport names as sipgo spells them.
const (
	tpUDP = "UDP"
	tpTCP = "TCP"
	tpTLS = "TLS"
	tpWS  = "WS"
	tpWSS = "WSS"
)

// aorKey identifies an address of record: an extension number in a tenant.
type aorKey struct {
	tenant int64
	number string
}

// binding is one registered contact.
type binding struct {
	contact   string         // contact URI as registered
	source    netip.AddrPort // where the REGISTER came from
	transport string         // tpUDP …
	// useSource: requests go to source rather than to the contact URI (the phone is behind
	// NAT, or it registered over a connection, which requests must reuse).
	useSource bool
	expires   int64 // unix seconds
	callID    string
	cseq      uint32
	ua        unique.Handle[string]
	instance  string // +sip.instance, RFC 5626
	q         float32
	updated   int64 // unix seconds
	// stored is the expiry last written to the store; a refresh that only moves the expiry
	// is written lazily (see persister).
	stored int64
}

func (b *binding) userAgent() string { return b.ua.Value() }

// aorEntry is an address of record with its bindings.
type aorEntry struct {
	extID    int64
	userID   int64
	aor      string // sip:number@realm, as stored
	bindings []binding
}

type locShard struct {
	mu   sync.RWMutex
	aors map[aorKey]*aorEntry
}

type location struct {
	seed    maphash.Seed
	shards  [256]locShard
	count   atomic.Int64 // bindings held
	persist *persister   // nil: memory only
	now     func() time.Time
}

func newLocation(p *persister) *location {
	l := &location{seed: maphash.MakeSeed(), persist: p, now: time.Now}
	for i := range l.shards {
		l.shards[i].aors = make(map[aorKey]*aorEntry)
	}
	return l
}

func (l *location) shard(k aorKey) *locShard {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.WriteString(k.number)
	return &l.shards[(h.Sum64()^uint64(k.tenant)*0x9e3779b97f4a7c15)%uint64(len(l.shards))]
}

// contactUpdate is one Contact of a REGISTER.
type contactUpdate struct {
	contact   string
	expires   int64 // seconds from now; 0 removes
	instance  string
	q         float32
	useSource bool // see needsSource
}

// regRequest is the part of a REGISTER the location service needs.
type regRequest struct {
	key       aorKey
	aor       string
	extID     int64
	userID    int64
	source    netip.AddrPort
	transport string
	callID    string
	cseq      uint32
	ua        string
	removeAll bool // Contact: * with Expires: 0
	contacts  []contactUpdate
}

// regOutcome says what became of a REGISTER.
type regOutcome int

const (
	regOK regOutcome = iota
	// regOutOfOrder: a lower CSeq for a Call-ID already seen (RFC 3261 §10.3 step 7).
	regOutOfOrder
)

// apply applies a REGISTER to its AOR and returns the bindings now current.
func (l *location) apply(r *regRequest, maxContacts int) ([]binding, regOutcome) {
	now := l.now().Unix()
	sh := l.shard(r.key)
	sh.mu.Lock()
	e := sh.aors[r.key]
	if e == nil {
		if r.removeAll || len(r.contacts) == 0 {
			sh.mu.Unlock()
			return nil, regOK
		}
		e = &aorEntry{extID: r.extID, userID: r.userID, aor: r.aor}
		sh.aors[r.key] = e
	}
	e.extID, e.userID, e.aor = r.extID, r.userID, r.aor
	// drop expired bindings first
	e.bindings = l.dropExpired(r.key, e, e.bindings, now)
	if r.removeAll {
		for _, b := range e.bindings {
			if b.callID == r.callID && b.cseq >= r.cseq {
				sh.mu.Unlock()
				return nil, regOutOfOrder
			}
		}
		for _, b := range e.bindings {
			l.forget(r.key, e, &b)
		}
		e.bindings = e.bindings[:0]
	}
	var ua unique.Handle[string]
	uaSet := false
	for _, c := range r.contacts {
		i := -1
		for j := range e.bindings {
			if e.bindings[j].contact == c.contact {
				i = j
				break
			}
		}
		if i >= 0 {
			b := &e.bindings[i]
			if b.callID == r.callID && r.cseq < b.cseq {
				sh.mu.Unlock()
				return nil, regOutOfOrder
			}
		}
		if c.expires == 0 {
			if i >= 0 {
				l.forget(r.key, e, &e.bindings[i])
				e.bindings = append(e.bindings[:i], e.bindings[i+1:]...)
			}
			continue
		}
		if !uaSet {
			ua, uaSet = unique.Make(r.ua), true
		}
		nb := binding{contact: c.contact, source: r.source, transport: r.transport, useSource: c.useSource,
			expires: now + c.expires, callID: r.callID, cseq: r.cseq, ua: ua, instance: c.instance, q: c.q, updated: now}
		if i >= 0 {
			old := &e.bindings[i]
			nb.stored = old.stored
			changed := old.source != nb.source || old.transport != nb.transport || old.ua != nb.ua || old.instance != nb.instance
			*old = nb
			l.save(r.key, e, old, changed)
			continue
		}
		if len(e.bindings) >= maxContacts {
			// the least recently refreshed binding makes room
			oldest := 0
			for j := range e.bindings {
				if e.bindings[j].updated < e.bindings[oldest].updated {
					oldest = j
				}
			}
			l.forget(r.key, e, &e.bindings[oldest])
			e.bindings = append(e.bindings[:oldest], e.bindings[oldest+1:]...)
		}
		e.bindings = append(e.bindings, nb)
		l.count.Add(1)
		l.save(r.key, e, &e.bindings[len(e.bindings)-1], true)
	}
	out := append([]binding(nil), e.bindings...)
	if len(e.bindings) == 0 {
		delete(sh.aors, r.key)
	}
	sh.mu.Unlock()
	return out, regOK
}

// dropExpired removes expired bindings (caller holds the shard lock).
func (l *location) dropExpired(k aorKey, e *aorEntry, bs []binding, now int64) []binding {
	out := bs[:0]
	for i := range bs {
		if bs[i].expires > now {
			out = append(out, bs[i])
			continue
		}
		l.forget(k, e, &bs[i])
	}
	for i := len(out); i < len(bs); i++ {
		bs[i] = binding{}
	}
	return out
}

// forget accounts for a binding leaving (caller holds the shard lock).
func (l *location) forget(k aorKey, e *aorEntry, b *binding) {
	l.count.Add(-1)
	if l.persist != nil {
		l.persist.remove(k.tenant, e.aor, b.contact)
	}
}

// save queues a binding for the store (caller holds the shard lock). A binding that only had
// its expiry refreshed is written lazily unless its stored expiry has fallen behind by more
// than half of its interval.
func (l *location) save(k aorKey, e *aorEntry, b *binding, changed bool) {
	if l.persist == nil {
		return
	}
	urgent := changed || b.stored == 0
	if !urgent {
		interval := b.expires - b.updated
		if b.expires-b.stored < interval/2 {
			return // the stored expiry is recent enough; a restart loses little
		}
	}
	b.stored = b.expires
	l.persist.upsert(k, e, b, urgent)
}

// lookup returns the current bindings of an AOR, most preferred (highest q, newest) first.
func (l *location) lookup(k aorKey) []binding {
	now := l.now().Unix()
	sh := l.shard(k)
	sh.mu.RLock()
	e := sh.aors[k]
	var out []binding
	if e != nil {
		for _, b := range e.bindings {
			if b.expires > now {
				out = append(out, b)
			}
		}
	}
	sh.mu.RUnlock()
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].q != out[j].q {
			return out[i].q > out[j].q
		}
		return out[i].updated > out[j].updated
	})
	return out
}

// sweep drops expired bindings of every AOR.
func (l *location) sweep() {
	now := l.now().Unix()
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for k, e := range sh.aors {
			for _, b := range e.bindings {
				if b.expires <= now {
					e.bindings = l.dropExpired(k, e, e.bindings, now)
					break
				}
			}
			if len(e.bindings) == 0 {
				delete(sh.aors, k)
			}
		}
		sh.mu.Unlock()
	}
}

// restore puts a binding read from the store back (at start).
func (l *location) restore(k aorKey, aor string, extID, userID int64, b binding) {
	sh := l.shard(k)
	sh.mu.Lock()
	e := sh.aors[k]
	if e == nil {
		e = &aorEntry{extID: extID, userID: userID, aor: aor}
		sh.aors[k] = e
	}
	for i := range e.bindings {
		if e.bindings[i].contact == b.contact {
			e.bindings[i] = b
			sh.mu.Unlock()
			return
		}
	}
	e.bindings = append(e.bindings, b)
	l.count.Add(1)
	sh.mu.Unlock()
}

// bindings returns the number of bindings held.
func (l *location) bindings() int { return int(l.count.Load()) }

// sources calls f with the source address of every binding (at start, to tell the guard
// which sources hold registrations).
func (l *location) sources(f func(netip.AddrPort)) {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.RLock()
		for _, e := range sh.aors {
			for _, b := range e.bindings {
				f(b.source)
			}
		}
		sh.mu.RUnlock()
	}
}

// aorOf returns the address of record as stored ("" when the AOR holds nothing).
func (l *location) aorOf(k aorKey) string {
	sh := l.shard(k)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if e := sh.aors[k]; e != nil {
		return e.aor
	}
	return ""
}
