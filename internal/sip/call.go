package sip

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	callmodel "github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/media"
	"github.com/privox/privox/internal/store"
)

// The back-to-back user agent. Every call between extensions is two dialogs: leg A with the
// caller, in which Privox is the UAS, and leg B with the callee, in which Privox is the UAC.
// The callee's INVITE forks to each registered contact; the first to answer wins and the
// others are cancelled. SDP goes through the call's media.Session in both directions, so
// that the RTP of both legs flows through the relay.

// CallInfo describes a call to hooks (DTMF) without exposing its internals.
type CallInfo struct {
	CallID   string
	TenantID int64
	Caller   string // extension number
	Callee   string // dialled number
}

type callState int

const (
	stRouting  callState = iota // A's INVITE is being authenticated and routed
	stRinging                   // forks sent, no answer yet
	stAnswered                  // a fork answered; 200 sent to A
	stEnded                     // over (CDR written or about to be)
)

// leg is one dialog of a call, seen from Privox.
type leg struct {
	id           media.LegID
	callID       string
	localTag     string
	remoteTag    string
	localURI     sip.Uri // our side's URI (From in our requests)
	localDisplay string
	remoteURI    sip.Uri // the peer's URI (To in our requests)
	remoteTarget sip.Uri // the peer's Contact
	routes       []sip.Uri
	cseq         uint32 // our last CSeq in this dialog
	remoteCSeq   uint32
	transport    string
	dest         string // host:port our requests go to
	// session timer (RFC 4028) as the peer refreshes it; zero when not in use
	interval    time.Duration
	lastRefresh time.Time
}

// fork is one branch of the callee's INVITE: one registered contact.
type fork struct {
	b         binding
	req       *sip.Request
	tx        sip.ClientTransaction
	early     bool // a provisional response arrived, so it may be cancelled
	cancelled bool
	cancelDue bool // cancel as soon as a provisional response arrives
	done      bool
	final     int // final status, 0 while pending
	timeout   bool
	stale     bool // the call was diverted to an application: this fork's answers no longer count
	authed    bool // the INVITE carries the trunk's answer to the provider's challenge
}

type call struct {
	s      *Server
	log    *slog.Logger
	id     string // A's Call-ID
	tenant store.Tenant
	realm  string
	caller *account
	callee *account
	dialed string
	ms     *media.Session

	mu             sync.Mutex
	state          callState
	a, b           leg
	forks          []*fork
	invite         *sip.Request // A's INVITE
	inviteTx       sip.ServerTransaction
	aOffer         bool // A's INVITE carried SDP (otherwise the callee's 2xx carries the offer)
	aSupportsTimer bool
	bCallID        string
	bFromTag       string
	lateAckTo      *fork             // late offer: the winning fork waits for A's ACK to carry the answer
	reinvite       bool              // an in-dialog offer/answer exchange is in progress
	reAck          chan *sip.Request // the ACK of that exchange's 2xx, when it is a re-INVITE
	reIdle         chan struct{}     // closed when that re-INVITE exchange is over
	lastAck        *sip.Request      // the ACK sent for the winning 2xx (re-sent on retransmissions)
	startAt        time.Time
	answerAt       time.Time
	// outsideDone reports an outside call's end to the outside-call guard; trunk names the
	// trunk an outside call left through.
	outsideDone func(time.Duration)
	outsideAt   time.Time // when an application's connect to an outside number was answered
	trunk       string
	outside     *outsideLeg // an outside call's trunks and identity (trunkcall.go)
	group       *groupLeg   // a group call's steps (groupcall.go)
	busyOn      []aorKey    // the extensions this answered call marks busy (busy.go)
	// Forwarding (divert.go): the request the dial plan routed last, the forwards the call
	// followed (sent on as Diversion headers), the number it was forwarded to, whether the
	// callee is on do-not-disturb (no forwarding then, only voicemail), and the request to
	// route next after a forward once the call rang.
	req       *dialplan.Request
	diverted  []dialplan.Diversion
	fwdTarget string
	dnd       bool
	next      *dialplan.Request
	endAt     time.Time
	cause     int
	hangupBy  string
	decided   chan struct{} // closed once A's INVITE has its final response
	final     *sip.Response // that response (nil when sipgo answered a CANCEL with 487)
	acked     chan struct{} // closed when A acknowledges the 2xx
	ended     chan struct{}
	timers    []*time.Timer
	sessTimer *time.Timer
	endOnce   sync.Once
	self      atomic.Pointer[call] // cleared when the call ends (see handleInvite)

	// Calls routed to an application of the call model (appcall.go): A's far end is the
	// application until it connects A to a callee, when the call becomes a two-party call.
	appLeg    *callmodel.Leg
	appLocal  bool         // A is answered by the application (no B dialog)
	appOffer  []byte       // the offer the session made for its local leg from A's SDP
	aSDP      []byte       // A's last SDP offer
	appFormat media.Format // what A and the application talk
	bridging  chan int     // while the application connects A to a callee: the outcome (status)
	moh       [2]func()    // music on hold playing to a leg (by LegID), stopped on resume
}

// forking reports whether the call's forks may still win: the caller hears ringing, or an
// application waits while it connects the caller (caller holds c.mu).
func (c *call) forking() bool {
	return c.state == stRinging || c.bridging != nil && c.state == stAnswered
}

// callTable finds calls by the Call-ID of either leg.
type callTable struct {
	mu  sync.Mutex
	byA map[string]*call
	byB map[string]*call
}

func newCallTable() *callTable {
	return &callTable{byA: map[string]*call{}, byB: map[string]*call{}}
}

func (t *callTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byA)
}

func (t *callTable) add(c *call) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.byA[c.id]; dup {
		return false
	}
	t.byA[c.id] = c
	t.byB[c.bCallID] = c
	return true
}

func (t *callTable) remove(c *call) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byA[c.id] == c {
		delete(t.byA, c.id)
	}
	if t.byB[c.bCallID] == c {
		delete(t.byB, c.bCallID)
	}
}

// find returns the call a Call-ID belongs to and which leg it names.
func (t *callTable) find(callID string) (*call, media.LegID, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.byA[callID]; ok {
		return c, media.LegA, true
	}
	if c, ok := t.byB[callID]; ok {
		return c, media.LegB, true
	}
	return nil, 0, false
}

func (t *callTable) all() []*call {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*call, 0, len(t.byA))
	for _, c := range t.byA {
		out = append(out, c)
	}
	return out
}

func (c *call) info() CallInfo {
	ci := CallInfo{CallID: c.id, TenantID: c.tenant.ID, Callee: c.dialed}
	if c.caller != nil {
		ci.Caller = c.caller.number
	}
	return ci
}

// legOf returns the leg with an id (caller holds c.mu).
func (c *call) legOf(id media.LegID) *leg {
	if id == media.LegA {
		return &c.a
	}
	return &c.b
}

func other(id media.LegID) media.LegID {
	if id == media.LegA {
		return media.LegB
	}
	return media.LegA
}

// ---- addresses and headers we write ----

// contactFor is our Contact for a transport.
func (s *Server) contactFor(transport string, user string) *sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", User: user, Host: s.host, Port: s.ports[transport]}
	if u.Port == 0 {
		u.Port = s.ports[tpUDP]
	}
	if transport != tpUDP {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", strings.ToLower(transport))
	}
	return &sip.ContactHeader{Address: u}
}

// via returns a fresh Via of ours for a transport.
func (s *Server) via(transport string) *sip.ViaHeader {
	port := s.ports[transport]
	if port == 0 {
		port = s.ports[tpUDP]
	}
	v := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: transport, Host: s.host, Port: port, Params: sip.NewParams()}
	v.Params.Add("branch", sip.GenerateBranch())
	v.Params.Add("rport", "")
	return v
}

// udpLaddr is the UDP listener's address, which requests over UDP must leave from (phones
// behind NAT only accept packets from the address they registered with).
func (s *Server) udpLaddr() sip.Addr {
	if s.udp == nil {
		return sip.Addr{}
	}
	a := s.udp.sock.localAddr()
	return sip.Addr{IP: a.IP, Port: a.Port}
}

// send prepares a request for sipgo's transport: destination, transport and local address.
func (s *Server) route(req *sip.Request, transport, dest string) {
	req.SetTransport(transport)
	req.SetDestination(dest)
	if transport == tpUDP {
		req.Laddr = s.udpLaddr()
	}
}

// hostPort returns "host:port" of a URI, with the transport's default port.
func hostPort(u sip.Uri, transport string) string {
	port := u.Port
	if port == 0 {
		port = sip.DefaultPort(transport)
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
}

// legDest decides where requests in a dialog go: to the first route when there is a route
// set; else over the peer's flow (its source address) when it is behind NAT or connected
// over a stream; else to its Contact.
func legDest(l *leg, src netip.AddrPort, useSource bool) string {
	if len(l.routes) > 0 {
		return hostPort(l.routes[0], l.transport)
	}
	if useSource && src.IsValid() {
		return src.String()
	}
	return hostPort(l.remoteTarget, l.transport)
}

// newInDialog builds a request in a dialog (caller holds c.mu).
func (c *call) newInDialog(l *leg, method sip.RequestMethod) *sip.Request {
	s := c.s
	req := sip.NewRequest(method, *l.remoteTarget.Clone())
	req.AppendHeader(s.via(l.transport))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, r := range l.routes {
		req.AppendHeader(&sip.RouteHeader{Address: *r.Clone()})
	}
	from := &sip.FromHeader{DisplayName: l.localDisplay, Address: *l.localURI.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", l.localTag)
	req.AppendHeader(from)
	to := &sip.ToHeader{Address: *l.remoteURI.Clone(), Params: sip.NewParams()}
	if l.remoteTag != "" {
		to.Params.Add("tag", l.remoteTag)
	}
	req.AppendHeader(to)
	cid := sip.CallIDHeader(l.callID)
	req.AppendHeader(&cid)
	if method != sip.ACK {
		l.cseq++
	}
	req.AppendHeader(&sip.CSeqHeader{SeqNo: l.cseq, MethodName: method})
	if method == sip.INVITE || method == sip.UPDATE {
		req.AppendHeader(s.contactFor(l.transport, ""))
	}
	req.AppendHeader(sip.NewHeader("User-Agent", "Privox"))
	req.SetBody(nil) // Content-Length: 0 until a body is set
	s.route(req, l.transport, l.dest)
	return req
}

// setBody sets an SDP body (or none) with its headers.
func setBody(m interface {
	SetBody([]byte)
	AppendHeader(sip.Header)
	RemoveHeader(string) bool
}, sdp []byte) {
	m.RemoveHeader("Content-Type")
	m.RemoveHeader("Content-Length")
	if len(sdp) > 0 {
		m.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	m.SetBody(sdp) // adds Content-Length
}

// sdpOf returns a message's SDP body, or nil.
func sdpOf(m interface {
	Body() []byte
	ContentType() *sip.ContentTypeHeader
}) []byte {
	b := m.Body()
	if len(b) == 0 {
		return nil
	}
	if ct := m.ContentType(); ct != nil && !isSDP(ct.Value()) {
		return nil
	}
	return b
}

// request sends a request outside any handler and returns its final response (nil on
// timeout or transport error).
// errNoFinalResponse: a client transaction ended without a final response and without an error.
var errNoFinalResponse = errors.New("sip: transaction ended without a final response")

func (s *Server) request(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	tx, err := s.ua.TransactionLayer().Request(ctx, req)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res == nil {
				return nil, errNoFinalResponse
			}
			if res.StatusCode < 200 {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			// Terminated without an error and without a final answer (the stack shutting
			// down): callers read a missing answer as a failure, never as a nil response.
			return nil, errNoFinalResponse
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// write sends a request without a transaction (ACK for a 2xx).
func (s *Server) write(req *sip.Request) error {
	return s.ua.TransportLayer().WriteMsg(req)
}

func parseSource(src string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// newID returns a random identifier for Call-IDs and tags.
func newID() string { return sip.GenerateTagN(24) }
