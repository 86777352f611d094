package sip_test

import (
	"context"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/privox/privox/internal/sip"
)

// TestDigestReplay is the toll-fraud attack on digest authentication: an attacker who saw one
// authenticated INVITE (from 1001 to 1002) sends its Proxy-Authorization again, once towards
// another destination and once to the same one as a new call. Neither may be accepted as
// 1001's; the genuine INVITE is (it reaches routing: 480, 1002 is not registered).
func TestDigestReplay(t *testing.T) {
	e := start(t, func(p *sip.Policy) { p.AuthFailures = 100 })
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.ext("1003", "secret-1003")
	c := newSIPClient(t, "127.0.0.2")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	send := func(req *gosip.Request) *gosip.Response {
		t.Helper()
		res, err := c.c.Do(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", req.Method, err)
		}
		return res
	}
	// the genuine call: challenged, then answered with the password
	req := e.invite("1001", "1002")
	res := send(req)
	if res.StatusCode != 407 {
		t.Fatalf("first INVITE: %d, want 407", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(res.GetHeader("Proxy-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: req.Recipient.String(), Username: "1001", Password: "secret-1001", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	captured := cred.String()
	genuine := e.invite("1001", "1002")
	genuine.AppendHeader(gosip.NewHeader("Proxy-Authorization", captured))
	if res := send(genuine); res.StatusCode != 480 {
		t.Fatalf("genuine INVITE: %d %s, want 480 (authenticated, callee not registered)", res.StatusCode, res.Reason)
	}

	// replayed towards another destination: the uri parameter names 1002, not 1003
	other := e.invite("1001", "1003")
	other.AppendHeader(gosip.NewHeader("Proxy-Authorization", captured))
	if res := send(other); res.StatusCode != 400 {
		t.Errorf("replay to another destination: %d %s, want 400", res.StatusCode, res.Reason)
	}
	// ... with the Request-URI written differently but naming the same destination, it is
	// still a replay of a used nonce count
	again := e.invite("1001", "1002")
	again.AppendHeader(gosip.NewHeader("Proxy-Authorization", captured))
	res = send(again)
	if res.StatusCode != 407 {
		t.Fatalf("replay as a new call: %d %s, want 407 (challenged afresh)", res.StatusCode, res.Reason)
	}
	if h := res.GetHeader("Proxy-Authenticate"); h == nil {
		t.Fatal("replay answered without a new challenge")
	}
	// the replays made no call: one CDR only, the genuine one's
	waitFor(t, "the genuine call's CDR", func() bool { return len(e.cdrs(t)) >= 1 })
	time.Sleep(200 * time.Millisecond)
	if n := len(e.cdrs(t)); n != 1 {
		t.Errorf("%d CDRs, want 1 (replays must not become calls)", n)
	}
	// the phone itself goes on: a new nonce count on the same nonce is accepted
	next, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: req.Recipient.String(), Username: "1001", Password: "secret-1001", Count: 2, Cnonce: cred.Cnonce})
	if err != nil {
		t.Fatal(err)
	}
	third := e.invite("1001", "1002")
	third.AppendHeader(gosip.NewHeader("Proxy-Authorization", next.String()))
	if res := send(third); res.StatusCode != 480 {
		t.Errorf("next nonce count: %d %s, want 480", res.StatusCode, res.Reason)
	}
}
