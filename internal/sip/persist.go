package sip

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/store"
)

// persister writes registrations behind the location service: changes are coalesced per
// binding and written in batches, one transaction each. New and changed bindings and removals
// go out within flushUrgent; refreshes that only move an expiry wait for flushLazy. A restart
// reads the table back (restore), so phones stay reachable without re-registering.
type persister struct {
	db   *store.DB
	node string
	log  *slog.Logger

	mu      sync.Mutex
	pending map[store.RegistrationKey]pendingReg
	urgent  bool

	stop chan struct{}
	done chan struct{}
}

type pendingReg struct {
	del bool
	row store.Registration
}

const (
	flushUrgent = 250 * time.Millisecond
	flushLazy   = 10 * time.Second
	flushBatch  = 2000
)

func newPersister(db *store.DB, node string, log *slog.Logger) *persister {
	return &persister{db: db, node: node, log: log, pending: make(map[store.RegistrationKey]pendingReg),
		stop: make(chan struct{}), done: make(chan struct{})}
}

func (p *persister) upsert(k aorKey, e *aorEntry, b *binding, urgent bool) {
	var uid *int64
	if e.userID != 0 {
		id := e.userID
		uid = &id
	}
	row := store.Registration{TenantID: k.tenant, UserID: uid, ExtensionID: e.extID, Number: k.number, AOR: e.aor, Contact: b.contact,
		SourceIP: b.source.Addr().Unmap().String(), SourcePort: int(b.source.Port()), Transport: b.transport, UserAgent: b.userAgent(),
		Instance: b.instance, Node: p.node, ExpiresAt: b.expires * 1000, UpdatedAt: b.updated * 1000}
	p.mu.Lock()
	p.pending[store.RegistrationKey{TenantID: k.tenant, AOR: e.aor, Contact: b.contact}] = pendingReg{row: row}
	p.urgent = p.urgent || urgent
	p.mu.Unlock()
}

func (p *persister) remove(tenant int64, aor, contact string) {
	p.mu.Lock()
	p.pending[store.RegistrationKey{TenantID: tenant, AOR: aor, Contact: contact}] = pendingReg{del: true}
	p.urgent = true
	p.mu.Unlock()
}

func (p *persister) run() {
	defer close(p.done)
	t := time.NewTicker(flushUrgent)
	defer t.Stop()
	lastLazy := time.Now()
	lastExpired := time.Now()
	for {
		select {
		case <-p.stop:
			p.flush()
			return
		case now := <-t.C:
			p.mu.Lock()
			due := p.urgent || (len(p.pending) > 0 && now.Sub(lastLazy) >= flushLazy)
			p.mu.Unlock()
			if due {
				p.flush()
				lastLazy = now
			}
			if now.Sub(lastExpired) >= 5*time.Minute {
				lastExpired = now
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if _, err := p.db.DeleteExpiredRegistrations(ctx, p.node, store.Now()); err != nil {
					p.log.Error("delete expired registrations", "err", err)
				}
				cancel()
			}
		}
	}
}

// flush writes everything pending.
func (p *persister) flush() {
	p.mu.Lock()
	batch := p.pending
	p.pending = make(map[store.RegistrationKey]pendingReg, len(batch))
	p.urgent = false
	p.mu.Unlock()
	var ups []store.Registration
	var dels []store.RegistrationKey
	write := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.db.SaveRegistrations(ctx, ups, dels); err != nil {
			p.log.Error("persist registrations", "err", err, "upserts", len(ups), "deletes", len(dels))
		}
		ups, dels = ups[:0], dels[:0]
	}
	for k, op := range batch {
		if op.del {
			dels = append(dels, k)
		} else {
			ups = append(ups, op.row)
		}
		if len(ups)+len(dels) >= flushBatch {
			write()
		}
	}
	if len(ups)+len(dels) > 0 {
		write()
	}
}

func (p *persister) close() {
	close(p.stop)
	<-p.done
}

// restore loads this node's unexpired registrations into the location service.
func restore(ctx context.Context, db *store.DB, node string, loc *location) (int, error) {
	if _, err := db.DeleteExpiredRegistrations(ctx, node, store.Now()); err != nil {
		return 0, err
	}
	n := 0
	after := int64(0)
	for {
		rows, last, err := db.ListRegistrations(ctx, node, store.Now(), after, 5000)
		if err != nil {
			return n, err
		}
		for _, r := range rows {
			src, err := netip.ParseAddr(r.SourceIP)
			if err != nil {
				continue
			}
			b := binding{contact: r.Contact, source: netip.AddrPortFrom(src, uint16(r.SourcePort)), transport: r.Transport,
				expires: r.ExpiresAt / 1000, ua: uniqueUA(r.UserAgent), instance: r.Instance, q: 1, updated: r.UpdatedAt / 1000, stored: r.ExpiresAt / 1000}
			b.useSource = needsSource(r.Transport, b.source, r.Contact)
			var uid int64
			if r.UserID != nil {
				uid = *r.UserID
			}
			loc.restore(aorKey{r.TenantID, r.Number}, r.AOR, r.ExtensionID, uid, b)
			n++
		}
		if len(rows) < 5000 {
			return n, nil
		}
		after = last
	}
}

// needsSource decides where requests to a contact go: over a connection-oriented transport
// always back over the flow the phone opened (the source); over UDP to the source when the
// contact's host differs from the source IP (NAT rewrote it), otherwise to the contact as
// registered (a phone may register from one port and take calls on another).
func needsSource(transport string, src netip.AddrPort, contact string) bool {
	if transport != tpUDP {
		return true
	}
	host, ok := uriHostOf(contact)
	if !ok {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return true // a name in the contact: trust the address the phone really used
	}
	return ip.Unmap() != src.Addr().Unmap()
}

// uriHostOf returns the host of a contact URI as sipgo writes it (sip:user@host:port;params):
// a cheaper look than parsing the URI again.
func uriHostOf(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, "sip:")
	if !ok {
		if rest, ok = strings.CutPrefix(uri, "sips:"); !ok {
			var u sip.Uri
			if err := sip.ParseUri(uri, &u); err != nil {
				return "", false
			}
			return u.Host, true
		}
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if end := strings.IndexByte(rest, ']'); end > 0 {
			return rest[:end+1], true
		}
		return "", false
	}
	if end := strings.IndexAny(rest, ":;?"); end >= 0 {
		rest = rest[:end]
	}
	return rest, rest != ""
}
