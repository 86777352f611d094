package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
)

// Trunk registration: for every registering trunk of every tenant, Privox sends REGISTER to
// the provider with digest authentication, refreshes it before it expires, backs off after
// failures (doubling up to trunkBackoffMax) and alternates to the failover server when one
// is configured. The trunks are re-read every trunkPoll, so a change through the API or the
// command line takes effect without a restart. The password is opened from its sealed form
// only when a challenge is answered and never logged.

const (
	trunkPoll          = 5 * time.Second
	trunkBackoffMin    = 2 * time.Second
	trunkBackoffMax    = 5 * time.Minute
	trunkMinRefresh    = 5 * time.Second
	trunkMaxRefresh    = time.Hour // a huge Expires still refreshes hourly
	trunkRequestTimout = 10 * time.Second
)

// TrunkState is the registration state of one trunk, as the API and metrics show it.
type TrunkState struct {
	TenantID int64  `json:"tenant_id"`
	Trunk    string `json:"trunk"`
	// State is "registering", "registered" or "failed".
	State     string `json:"state"`
	Server    string `json:"server"`
	ExpiresAt int64  `json:"expires_at,omitempty"` // unix ms
	Failures  int    `json:"failures"`
	LastError string `json:"last_error,omitempty"`
}

type trunkKey struct {
	tenant int64
	name   string
}

type trunkRegs struct {
	s     *Server
	mu    sync.Mutex
	regs  map[trunkKey]*trunkReg
	gauge *prometheus.GaugeVec
	// failovers counts outside calls a trunk failed, so the route's next trunk took over.
	failovers *prometheus.CounterVec
}

type trunkReg struct {
	t      store.Trunk
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	state TrunkState
}

func newTrunkRegs(s *Server, reg prometheus.Registerer) (*trunkRegs, error) {
	tr := &trunkRegs{s: s, regs: map[trunkKey]*trunkReg{},
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "privox_trunk_registered",
			Help: "1 while a registering trunk is registered with its provider, else 0."}, []string{"tenant", "trunk"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "privox_trunk_failovers_total",
			Help: "Outside calls a trunk failed (unreachable, no answer, 408 or 5xx), so the route's next trunk was tried."}, []string{"tenant", "trunk"})}
	if reg != nil {
		for _, c := range []prometheus.Collector{tr.gauge, tr.failovers} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("sip: trunk metrics: %w", err)
			}
		}
	}
	return tr, nil
}

// TrunkStates returns the registration state of a tenant's registering trunks.
func (s *Server) TrunkStates(tenantID int64) []TrunkState {
	tr := s.trunks
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := []TrunkState{}
	for k, r := range tr.regs {
		if k.tenant == tenantID {
			r.mu.Lock()
			out = append(out, r.state)
			r.mu.Unlock()
		}
	}
	return out
}

// run reconciles the registrations with the stored trunks until the server stops.
func (tr *trunkRegs) run() {
	t := time.NewTicker(trunkPoll)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := tr.reconcile(ctx); err != nil {
			tr.s.log.Warn("read trunks", "err", err)
		}
		tr.s.trunkIn.refresh(ctx) // the addresses calls from trunks come from (trunkin.go)
		cancel()
		select {
		case <-tr.s.stopping:
			tr.stopAll()
			return
		case <-t.C:
		}
	}
}

func (tr *trunkRegs) reconcile(ctx context.Context) error {
	ts, err := tr.s.db.ListTrunks(ctx, 0)
	if err != nil {
		return err
	}
	want := map[trunkKey]store.Trunk{}
	for _, t := range ts {
		if t.Kind == dialplan.TrunkRegister && t.HasPassword {
			want[trunkKey{t.TenantID, t.Name}] = t
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for k, r := range tr.regs {
		if t, ok := want[k]; !ok || t.UpdatedAt != r.t.UpdatedAt {
			r.cancel()
			<-r.done
			delete(tr.regs, k)
			tr.gauge.DeleteLabelValues(strconv.FormatInt(k.tenant, 10), k.name)
		}
	}
	for k, t := range want {
		if tr.regs[k] != nil {
			continue
		}
		rctx, cancel := context.WithCancel(context.Background())
		r := &trunkReg{t: t, cancel: cancel, done: make(chan struct{}), state: TrunkState{TenantID: t.TenantID, Trunk: t.Name, State: "registering", Server: t.Server}}
		tr.regs[k] = r
		go func() { defer close(r.done); tr.loop(rctx, r) }()
	}
	return nil
}

func (tr *trunkRegs) stopAll() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for k, r := range tr.regs {
		r.cancel()
		<-r.done
		delete(tr.regs, k)
	}
}

// loop keeps one trunk registered.
func (tr *trunkRegs) loop(ctx context.Context, r *trunkReg) {
	t := r.t
	servers := []string{t.Server}
	if t.Failover != "" {
		servers = append(servers, t.Failover)
	}
	labels := []string{strconv.FormatInt(t.TenantID, 10), t.Name}
	// One Call-ID and From tag for every refresh of this binding (RFC 3261 10.2.4).
	callID, tag := sip.GenerateBranch(), sip.GenerateTagN(16)
	cseq := uint32(0)
	failures, cur := 0, 0
	for {
		server := servers[cur]
		expires, err := tr.register(ctx, t, server, callID, tag, &cseq)
		var wait time.Duration
		r.mu.Lock()
		r.state.Server = server
		if err == nil {
			failures = 0
			r.state.State, r.state.Failures, r.state.LastError = "registered", 0, ""
			r.state.ExpiresAt = time.Now().Add(expires).UnixMilli()
			tr.gauge.WithLabelValues(labels...).Set(1)
			// Refresh at three quarters of the granted time, within bounds.
			wait = min(max(expires*3/4, trunkMinRefresh), trunkMaxRefresh)
		} else {
			if ctx.Err() != nil {
				r.mu.Unlock()
				return
			}
			failures++
			r.state.State, r.state.Failures, r.state.LastError, r.state.ExpiresAt = "failed", failures, err.Error(), 0
			tr.gauge.WithLabelValues(labels...).Set(0)
			wait = min(trunkBackoffMin<<min(failures-1, 16), trunkBackoffMax)
			cur = (cur + 1) % len(servers) // the other server next time
			tr.s.log.Info("trunk registration failed", "tenant", t.TenantID, "trunk", t.Name, "server", server, "err", err, "retry_in", wait)
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

var errTrunkAuth = errors.New("provider refused the credentials")

// register sends one REGISTER (answering one digest challenge) and returns the granted time.
func (tr *trunkRegs) register(ctx context.Context, t store.Trunk, server, callID, tag string, cseq *uint32) (time.Duration, error) {
	s := tr.s
	host, _, _ := net.SplitHostPort(server)
	transport := strings.ToUpper(t.Transport)
	aor := sip.Uri{Scheme: "sip", User: t.Username, Host: host}
	build := func(auth string) *sip.Request {
		*cseq++
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host})
		req.AppendHeader(s.via(transport))
		mf := sip.MaxForwardsHeader(70)
		req.AppendHeader(&mf)
		from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
		from.Params.Add("tag", tag)
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
		cid := sip.CallIDHeader(callID)
		req.AppendHeader(&cid)
		req.AppendHeader(&sip.CSeqHeader{SeqNo: *cseq, MethodName: sip.REGISTER})
		req.AppendHeader(s.contactFor(transport, t.Username))
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(t.RegisterExpires)))
		req.AppendHeader(sip.NewHeader("User-Agent", "Privox"))
		if auth != "" {
			req.AppendHeader(sip.NewHeader("Authorization", auth))
		}
		s.route(req, transport, server)
		return req
	}
	rctx, cancel := context.WithTimeout(ctx, trunkRequestTimout)
	defer cancel()
	res, err := s.request(rctx, build(""))
	if err != nil {
		return 0, fmt.Errorf("no answer from %s: %w", server, err)
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		hname := "WWW-Authenticate"
		if res.StatusCode == 407 {
			hname = "Proxy-Authenticate"
		}
		h := res.GetHeader(hname)
		if h == nil {
			return 0, fmt.Errorf("%d without %s", res.StatusCode, hname)
		}
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			return 0, fmt.Errorf("provider's challenge: %w", err)
		}
		pw, err := s.trunkPassword(ctx, t)
		if err != nil {
			return 0, err
		}
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:" + host, Username: t.Username, Password: pw, Count: 1})
		if err != nil {
			return 0, fmt.Errorf("answer the provider's challenge: %w", err)
		}
		if res.StatusCode == 407 {
			// The same credentials, for the proxy.
			req := build("")
			req.RemoveHeader("Authorization")
			req.AppendHeader(sip.NewHeader("Proxy-Authorization", cred.String()))
			res, err = s.request(rctx, req)
		} else {
			res, err = s.request(rctx, build(cred.String()))
		}
		if err != nil {
			return 0, fmt.Errorf("no answer from %s: %w", server, err)
		}
		if res.StatusCode == 401 || res.StatusCode == 407 || res.StatusCode == 403 {
			return 0, errTrunkAuth
		}
	}
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("%s answered %d %s", server, res.StatusCode, res.Reason)
	}
	return grantedExpires(res, t.RegisterExpires), nil
}

// trunkPassword opens a registering trunk's sealed password.
func (s *Server) trunkPassword(ctx context.Context, t store.Trunk) (string, error) {
	sealed, err := s.db.TrunkSecret(ctx, t.TenantID, t.ID)
	if err != nil {
		return "", fmt.Errorf("trunk password: %w", err)
	}
	if s.secrets == nil {
		return "", errors.New("no key to open the trunk password")
	}
	pw, err := s.secrets.OpenSecret(t.TenantID, dialplan.TrunkSecretBinding(t.ID), sealed)
	if err != nil {
		return "", fmt.Errorf("open trunk password: %w", err)
	}
	return pw, nil
}

// grantedExpires reads the time the registrar granted: our Contact's expires parameter, or
// the Expires header, or what was asked for; bounded to a day, so that a huge value does
// not overflow.
func grantedExpires(res *sip.Response, asked int) time.Duration {
	secs := asked
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil {
			secs = n
		}
	}
	for _, h := range res.GetHeaders("Contact") {
		if c, ok := h.(*sip.ContactHeader); ok {
			if v, ok := c.Params.Get("expires"); ok {
				if n, err := strconv.Atoi(v); err == nil {
					secs = n
				}
			}
		}
	}
	return time.Duration(min(max(secs, 0), 86400)) * time.Second
}
