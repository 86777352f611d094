package sip

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Message-waiting indication (RFC 3265 SUBSCRIBE/NOTIFY with the message-summary event of
// RFC 3842): a phone subscribes to its own extension's box (digest-authenticated as that
// extension) and gets a NOTIFY with the new and old message counts at once, after every
// change (MessagesChanged) and when the subscription ends. Subscriptions live in the process
// and end with it; phones refresh them.

// MessageCounts gives the message-waiting state of an extension's box (voicemail).
type MessageCounts interface {
	MessageCounts(ctx context.Context, tenantID int64, number string) (newMsgs, oldMsgs int, err error)
}

// UnsolicitedMWI says whether an extension's box tells its registered phones of changes
// without a subscription (voicemail implements it beside MessageCounts).
type UnsolicitedMWI interface {
	UnsolicitedMWI(ctx context.Context, tenantID int64, number string) (bool, error)
}

// MWI subscription limits.
const (
	mwiDefaultExpires = time.Hour
	mwiMinExpires     = 60 * time.Second
)

type mwiSub struct {
	tenantID  int64
	number    string
	realm     string
	callID    string
	localTag  string
	remoteTag string
	localURI  sip.Uri
	remoteURI sip.Uri
	target    sip.Uri
	transport string
	dest      string

	mu      sync.Mutex
	cseq    uint32
	expires time.Time
	timer   *time.Timer
	ended   bool
}

type mwiTable struct {
	mu   sync.Mutex
	subs map[string]*mwiSub // by Call-ID
}

func (t *mwiTable) get(callID string) *mwiSub {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.subs[callID]
}

func (t *mwiTable) put(s *mwiSub) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.subs == nil {
		t.subs = map[string]*mwiSub{}
	}
	t.subs[s.callID] = s
}

func (t *mwiTable) remove(s *mwiSub) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.subs[s.callID] == s {
		delete(t.subs, s.callID)
	}
}

func (t *mwiTable) of(tenantID int64, number string) []*mwiSub {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*mwiSub
	for _, s := range t.subs {
		if s.tenantID == tenantID && s.number == number {
			out = append(out, s)
		}
	}
	return out
}

// subscribe answers a SUBSCRIBE (initial or refresh).
func (s *Server) subscribe(in *inbound) *sip.Response {
	req := in.req
	if s.counts == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(headerValue(req, "Event"), ";", 2)[0]), "message-summary") {
		res := s.reply(req, 489, "Bad Event")
		if s.counts != nil {
			res.AppendHeader(sip.NewHeader("Allow-Events", "message-summary"))
		}
		return res
	}
	if s.draining.Load() {
		return s.reply(req, 503, "Service Unavailable")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l := &lookups{s: s, ctx: ctx}
	t, ok := l.tenant(req.Recipient.Host)
	if !ok {
		return s.reply(req, 404, "Not Found")
	}
	realm := realmOf(t)
	creds := credentials(req, false, realm)
	if creds == nil {
		res := s.reply(req, 401, "Unauthorized")
		s.auth.challenge(res, false, realm, false)
		return res
	}
	acct := l.user(t.ID, creds.Username)
	if l.err != nil {
		return s.reply(req, 500, "Server Internal Error")
	}
	switch s.auth.verify(creds, requestOf(req), acct, realm) {
	case authBadURI:
		return s.reply(req, 400, "Authorization URI Mismatch")
	case authStale:
		res := s.reply(req, 401, "Unauthorized")
		s.auth.challenge(res, false, realm, true)
		return res
	case authFailed:
		s.guard.authFailed(in.src, acct, in.transport)
		return s.reply(req, 403, "Forbidden")
	}
	s.guard.vouch(in.src)
	if req.Recipient.User != acct.number {
		return s.reply(req, 403, "Forbidden") // only the own box
	}
	exp := mwiDefaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			return s.reply(req, 400, "Bad Expires")
		}
		exp = min(time.Duration(n)*time.Second, mwiDefaultExpires)
	}
	if exp > 0 && exp < mwiMinExpires {
		res := s.reply(req, 423, "Interval Too Brief")
		res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(mwiMinExpires/time.Second))))
		return res
	}
	var sub *mwiSub
	if hasToTag(req) {
		sub = s.mwi.get(req.CallID().Value())
		if sub == nil || sub.localTag != req.To().Params.GetOr("tag", "") || sub.tenantID != t.ID || sub.number != acct.number {
			return s.reply(req, 481, "Subscription Does Not Exist")
		}
	} else {
		ct := req.Contact()
		if ct == nil {
			return s.reply(req, 400, "Missing Contact")
		}
		if exp == 0 {
			// A fetch: the state once, no subscription.
			exp = time.Millisecond
		}
		sub = &mwiSub{tenantID: t.ID, number: acct.number, realm: realm, callID: req.CallID().Value(), localTag: newTag(),
			remoteTag: req.From().Params.GetOr("tag", ""), localURI: *req.To().Address.Clone(), remoteURI: *req.From().Address.Clone(),
			target: *ct.Address.Clone(), transport: in.transport, dest: in.src.String()}
		s.mwi.put(sub)
	}
	res := s.reply(req, 200, "OK")
	res.To().Params.Remove("tag")
	res.To().Params.Add("tag", sub.localTag)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(exp/time.Second))))
	res.AppendHeader(s.contactFor(in.transport, ""))
	sub.mu.Lock()
	if sub.timer != nil {
		sub.timer.Stop()
	}
	sub.expires = time.Now().Add(exp)
	end := exp == 0 || exp < time.Second
	if !end {
		sub.timer = time.AfterFunc(exp, func() { s.endMWI(sub, "timeout") })
	}
	sub.mu.Unlock()
	go func() {
		// After the 200 is on its way (RFC 3265 §3.1.6.2: a NOTIFY follows at once).
		time.Sleep(20 * time.Millisecond)
		if end {
			s.endMWI(sub, "timeout")
			return
		}
		s.notifyMWI(sub, false, "")
	}()
	return res
}

func headerValue(req *sip.Request, name string) string {
	if h := req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// endMWI ends a subscription with a final NOTIFY.
func (s *Server) endMWI(sub *mwiSub, reason string) {
	sub.mu.Lock()
	if sub.ended {
		sub.mu.Unlock()
		return
	}
	sub.ended = true
	if sub.timer != nil {
		sub.timer.Stop()
	}
	sub.mu.Unlock()
	s.mwi.remove(sub)
	s.notifyMWI(sub, true, reason)
}

// MessagesChanged tells every phone subscribed to an extension's box its new counts, and
// the extension's registered phones too when the box is set for unsolicited NOTIFYs.
func (s *Server) MessagesChanged(tenantID int64, number string) {
	for _, sub := range s.mwi.of(tenantID, number) {
		go s.notifyMWI(sub, false, "")
	}
	go s.notifyUnsolicited(tenantID, number)
}

// notifyUnsolicited sends the box's counts to every contact registered for the extension,
// each NOTIFY outside any dialog (as phones set for unsolicited message-waiting expect).
func (s *Server) notifyUnsolicited(tenantID int64, number string) {
	u, ok := s.counts.(UnsolicitedMWI)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	if on, err := u.UnsolicitedMWI(ctx, tenantID, number); err != nil || !on {
		return
	}
	k := aorKey{tenant: tenantID, number: number}
	bindings := s.loc.lookup(k)
	if len(bindings) == 0 {
		return
	}
	aorText := s.loc.aorOf(k)
	var aor sip.Uri
	if err := sip.ParseUri(aorText, &aor); err != nil {
		return
	}
	newMsgs, oldMsgs, err := s.counts.MessageCounts(ctx, tenantID, number)
	if err != nil {
		s.log.Warn("message counts unavailable", "tenant", tenantID, "err", err)
		return
	}
	waiting := "no"
	if newMsgs > 0 {
		waiting = "yes"
	}
	body := fmt.Sprintf("Messages-Waiting: %s\r\nMessage-Account: %s\r\nVoice-Message: %d/%d (0/0)\r\n", waiting, aorText, newMsgs, oldMsgs)
	var wg sync.WaitGroup
	defer wg.Wait() // the answers (or the time-out) before the context goes
	for _, b := range bindings {
		var target sip.Uri
		if err := sip.ParseUri(b.contact, &target); err != nil {
			continue
		}
		req := sip.NewRequest(sip.NOTIFY, target)
		req.AppendHeader(s.via(b.transport))
		mf := sip.MaxForwardsHeader(70)
		req.AppendHeader(&mf)
		from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
		from.Params.Add("tag", newTag())
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
		cid := sip.CallIDHeader(newID())
		req.AppendHeader(&cid)
		req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.NOTIFY})
		req.AppendHeader(s.contactFor(b.transport, ""))
		req.AppendHeader(sip.NewHeader("Event", "message-summary"))
		req.AppendHeader(sip.NewHeader("Subscription-State", "active;expires="+strconv.FormatInt(max(1, b.expires-time.Now().Unix()), 10)))
		req.AppendHeader(sip.NewHeader("User-Agent", "Privox"))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/simple-message-summary"))
		req.SetBody([]byte(body))
		dest := hostPort(target, b.transport)
		if b.useSource {
			dest = b.source.String()
		}
		s.route(req, b.transport, dest)
		wg.Go(func() {
			if _, err := s.request(ctx, req); err != nil {
				s.log.Debug("unsolicited NOTIFY unanswered", "tenant", tenantID, "err", err)
			}
		})
	}
}

// RefreshMessageWaiting tells every subscribed phone its box's counts again (after the
// retention sweep removed messages).
func (s *Server) RefreshMessageWaiting() {
	s.mwi.mu.Lock()
	subs := make([]*mwiSub, 0, len(s.mwi.subs))
	for _, sub := range s.mwi.subs {
		subs = append(subs, sub)
	}
	s.mwi.mu.Unlock()
	for _, sub := range subs {
		go s.notifyMWI(sub, false, "")
	}
}

// notifyMWI sends one NOTIFY; a phone that answers 481 (or not at all) loses its subscription.
func (s *Server) notifyMWI(sub *mwiSub, final bool, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	newMsgs, oldMsgs, err := s.counts.MessageCounts(ctx, sub.tenantID, sub.number)
	if err != nil {
		s.log.Warn("message counts unavailable", "tenant", sub.tenantID, "err", err)
		return
	}
	waiting := "no"
	if newMsgs > 0 {
		waiting = "yes"
	}
	body := fmt.Sprintf("Messages-Waiting: %s\r\nMessage-Account: sip:%s@%s\r\nVoice-Message: %d/%d (0/0)\r\n", waiting, sub.number, sub.realm, newMsgs, oldMsgs)
	sub.mu.Lock()
	sub.cseq++
	state := "active;expires=" + strconv.Itoa(max(1, int(time.Until(sub.expires)/time.Second)))
	if final {
		state = "terminated;reason=" + reason
	}
	req := sip.NewRequest(sip.NOTIFY, *sub.target.Clone())
	req.AppendHeader(s.via(sub.transport))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: *sub.localURI.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", sub.localTag)
	req.AppendHeader(from)
	to := &sip.ToHeader{Address: *sub.remoteURI.Clone(), Params: sip.NewParams()}
	if sub.remoteTag != "" {
		to.Params.Add("tag", sub.remoteTag)
	}
	req.AppendHeader(to)
	cid := sip.CallIDHeader(sub.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.cseq, MethodName: sip.NOTIFY})
	req.AppendHeader(s.contactFor(sub.transport, ""))
	req.AppendHeader(sip.NewHeader("Event", "message-summary"))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("User-Agent", "Privox"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/simple-message-summary"))
	req.SetBody([]byte(body))
	s.route(req, sub.transport, sub.dest)
	sub.mu.Unlock()
	res, err := s.request(ctx, req)
	if final {
		return
	}
	if err != nil || res.StatusCode == 481 || res.StatusCode >= 500 && res.StatusCode != 503 {
		sub.mu.Lock()
		sub.ended = true
		if sub.timer != nil {
			sub.timer.Stop()
		}
		sub.mu.Unlock()
		s.mwi.remove(sub)
	}
}
