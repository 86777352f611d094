package sip_test

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icholy/digest"

	"github.com/privox/privox/internal/privoxtest"
)

// FuzzB2BUA drives the stateful call paths of a running Privox (INVITE with its challenge,
// provisional and final answers, ACK, CANCEL, re-INVITE from either side, BYE from either
// side, INFO) with sequences of messages that the fuzzer chooses, over real UDP sockets: a
// caller (1001) and a callee (1002, registered) answer what Privox sends them as the fuzzer
// tells them to. After every sequence Privox must have recovered from no panic and still
// answer; at the end every call must be gone. Seeds: testdata/fuzz/FuzzB2BUA, one byte per
// step: 0 INVITE, 1 callee mode (next byte: answer, busy, ring), 2 ACK, 3 CANCEL, 4 BYE,
// 5 re-INVITE, 6 callee BYE, 7 callee re-INVITE, 8 INFO, 9 pause (see the switch below).
func FuzzB2BUA(f *testing.F) {
	logs := &lockedBuffer{}
	p := privoxtest.Start(f, privoxtest.Options{LogCopy: logs})
	srv := p.App.SIP()
	pol := srv.Policy()
	pol.NoAnswer = 2 * time.Second
	pol.AuthFailures, pol.UnknownTargets = 0, 0
	srv.SetPolicy(pol)
	for _, n := range []string{"1001", "1002"} {
		if out, errOut, code := p.CLI("ext", "add", "--tenant", "default", "--number", n, "--sip-password", "secret-"+n); code != 0 {
			f.Fatalf("ext add %s: %s %s", n, out, errOut)
		}
	}
	target := srv.Addr("sip-udp")
	caller := newFuzzPeer(f, "127.0.0.2", target)
	callee := newFuzzPeer(f, "127.0.0.4", target)
	if !callee.register("1002", "secret-1002") {
		f.Fatal("the callee did not register")
	}
	f.Cleanup(func() {
		deadline := time.Now().Add(30 * time.Second)
		for srv.ActiveCalls() > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := srv.ActiveCalls(); n != 0 {
			f.Errorf("%d calls left after the sequences", n)
		}
		// the seeds reached the call paths: answered calls left CDRs (when fuzzing, the
		// sequences run in worker processes with Privoxes of their own)
		if fl := flag.Lookup("test.fuzz"); fl != nil && fl.Value.String() != "" {
			return
		}
		var answered int
		if err := p.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM cdrs WHERE answer_at IS NOT NULL`).Scan(&answered); err != nil || answered == 0 {
			f.Errorf("no answered call among the sequences (%v): the fuzz target drives nothing", err)
		}
	})
	f.Fuzz(func(t *testing.T, steps []byte) {
		if len(steps) > 24 {
			steps = steps[:24]
		}
		callee.mode.Store(0)
		panics := strings.Count(logs.String(), "recovered from a panic")
		var calls []*fuzzCall
		var cur *fuzzCall
		for i := 0; i < len(steps); i++ {
			arg := byte(0)
			if i+1 < len(steps) {
				arg = steps[i+1]
			}
			switch steps[i] % 10 {
			case 0:
				cur = caller.invite("1001", "secret-1001", "1002", sdpVariant(arg))
				calls = append(calls, cur)
			case 1:
				callee.mode.Store(int32(arg % 3))
				i++
			case 2:
				caller.ack(cur)
			case 3:
				caller.cancel(cur)
			case 4:
				caller.inDialog(cur, "BYE", nil)
			case 5:
				caller.inDialog(cur, "INVITE", sdpVariant(arg))
			case 6:
				callee.calleeRequest("BYE", nil)
			case 7:
				callee.calleeRequest("INVITE", sdpVariant(arg))
			case 8:
				caller.inDialog(cur, "INFO", []byte("Signal=1\r\nDuration=160\r\n"))
			case 9:
				time.Sleep(100 * time.Millisecond)
			}
			caller.settle(cur)
		}
		// hang up whatever the sequence left
		for _, c := range calls {
			caller.cancel(c)
			caller.ack(c)
			caller.inDialog(c, "BYE", nil)
		}
		callee.calleeRequest("BYE", nil)
		if strings.Count(logs.String(), "recovered from a panic") != panics {
			t.Fatalf("Privox recovered from a panic on steps %v", steps)
		}
		if !caller.options() {
			t.Fatalf("Privox no longer answers OPTIONS after steps %v", steps)
		}
	})
}

// sdpVariant picks an offer: a plain one, none, one with a codec nobody has, or garbage.
func sdpVariant(b byte) []byte {
	switch b % 4 {
	case 0:
		return []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
	case 1:
		return nil
	case 2:
		return []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 98\r\na=rtpmap:98 opus/48000/2\r\n")
	}
	return []byte("v=0\r\nm=audio x\r\n\x00\xff")
}

// fuzzPeer is one SIP endpoint on a UDP socket: it answers what Privox sends it (requests)
// and hands responses to whoever waits for them.
type fuzzPeer struct {
	tb     testing.TB
	conn   *net.UDPConn
	ip     string
	target *net.UDPAddr
	mode   atomic.Int32 // as callee: 0 answer, 1 busy, 2 ring only
	res    chan string
	seq    atomic.Uint32

	mu      sync.Mutex
	dialogB *fuzzDialog // as callee: the last dialog Privox opened toward it
}

type fuzzCall struct {
	callID, fromTag, toTag, branch, ruri string
	cseq                                 uint32
	auth                                 string
	answered                             bool
}

type fuzzDialog struct {
	callID, localTag, remoteTag, remoteURI, localURI, target string
	cseq                                                     uint32
}

func newFuzzPeer(tb testing.TB, ip, target string) *fuzzPeer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		tb.Fatal(err)
	}
	ta, _ := net.ResolveUDPAddr("udp", target)
	p := &fuzzPeer{tb: tb, conn: c, ip: ip, target: ta, res: make(chan string, 256)}
	tb.Cleanup(func() { c.Close() })
	go p.read()
	return p
}

func (p *fuzzPeer) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

func (p *fuzzPeer) send(m string) { _, _ = p.conn.WriteToUDP([]byte(m), p.target) }

func (p *fuzzPeer) read() {
	buf := make([]byte, 65536)
	for {
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		m := string(buf[:n])
		if strings.HasPrefix(m, "SIP/2.0 ") {
			select {
			case p.res <- m:
			default:
			}
			continue
		}
		p.answer(m)
	}
}

func hdr(m, name string) string {
	for _, l := range strings.Split(m, "\r\n") {
		if l == "" {
			break
		}
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func tagOf(v string) string {
	_, t, ok := strings.Cut(v, ";tag=")
	if !ok {
		return ""
	}
	t, _, _ = strings.Cut(t, ";")
	return t
}

func uriOf(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return v[i+1 : i+j]
		}
	}
	return v
}

// answer responds to a request from Privox.
func (p *fuzzPeer) answer(m string) {
	line, _, _ := strings.Cut(m, "\r\n")
	method, _, _ := strings.Cut(line, " ")
	if method == "ACK" {
		return
	}
	to := hdr(m, "To")
	myTag := tagOf(to)
	if myTag == "" {
		myTag = fmt.Sprintf("b%d", p.seq.Add(1))
		to += ";tag=" + myTag
	}
	reply := func(code int, reason string, body []byte) {
		var b strings.Builder
		fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
		for _, l := range strings.Split(m, "\r\n") {
			if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Via") {
				b.WriteString(l + "\r\n")
			}
		}
		fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\nContact: <sip:peer@%s:%d>\r\n", hdr(m, "From"), to, hdr(m, "Call-ID"), hdr(m, "CSeq"), p.ip, p.port())
		if body != nil {
			b.WriteString("Content-Type: application/sdp\r\n")
		}
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
		p.send(b.String())
	}
	sdp := sdpVariant(0)
	switch method {
	case "INVITE":
		if tagOf(hdr(m, "To")) != "" { // re-INVITE
			reply(200, "OK", sdp)
			return
		}
		p.mu.Lock()
		p.dialogB = &fuzzDialog{callID: hdr(m, "Call-ID"), localTag: myTag, remoteTag: tagOf(hdr(m, "From")),
			remoteURI: uriOf(hdr(m, "From")), localURI: uriOf(hdr(m, "To")), target: uriOf(hdr(m, "Contact")), cseq: 100}
		p.mu.Unlock()
		reply(180, "Ringing", nil)
		switch p.mode.Load() {
		case 0:
			reply(200, "OK", sdp)
		case 1:
			reply(486, "Busy Here", nil)
		}
	case "CANCEL":
		reply(200, "OK", nil)
	default:
		reply(200, "OK", nil)
	}
}

// await returns the first response for callID and CSeq method within d ("" when none), skipping
// provisional ones unless provisional is set.
func (p *fuzzPeer) await(callID, method string, d time.Duration, provisional bool) string {
	deadline := time.After(d)
	for {
		select {
		case m := <-p.res:
			if hdr(m, "Call-ID") != callID || !strings.HasSuffix(hdr(m, "CSeq"), " "+method) {
				continue
			}
			if !provisional && strings.HasPrefix(m, "SIP/2.0 1") {
				continue
			}
			return m
		case <-deadline:
			return ""
		}
	}
}

func (p *fuzzPeer) request(method, ruri, callID, fromTag, toTag string, cseq uint32, branch, extra string, body []byte) string {
	to := "<sip:1002@127.0.0.1>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=%s;rport\r\nFrom: <sip:1001@127.0.0.1>;tag=%s\r\nTo: %s\r\n", method, ruri, p.ip, p.port(), branch, fromTag, to)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\nContact: <sip:1001@%s:%d>\r\n%s", callID, cseq, method, p.ip, p.port(), extra)
	if body != nil {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// invite places a call from user to dialed, answering Privox's challenge.
func (p *fuzzPeer) invite(user, password, dialed string, body []byte) *fuzzCall {
	n := p.seq.Add(1)
	c := &fuzzCall{callID: fmt.Sprintf("fuzz-%d-%d@%s", time.Now().UnixNano(), n, p.ip), fromTag: fmt.Sprintf("a%d", n),
		ruri: "sip:" + dialed + "@127.0.0.1", cseq: 1, branch: fmt.Sprintf("z9hG4bK-fz-%d-1", n)}
	p.send(p.request("INVITE", c.ruri, c.callID, c.fromTag, "", c.cseq, c.branch, "", body))
	res := p.await(c.callID, "INVITE", 2*time.Second, false)
	if !strings.HasPrefix(res, "SIP/2.0 407") {
		return c
	}
	p.send(p.request("ACK", c.ruri, c.callID, c.fromTag, tagOf(hdr(res, "To")), c.cseq, c.branch, "", nil))
	chal, err := digest.ParseChallenge(hdr(res, "Proxy-Authenticate"))
	if err != nil {
		return c
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: c.ruri, Username: user, Password: password, Count: 1})
	if err != nil {
		return c
	}
	c.auth = "Proxy-Authorization: " + cred.String() + "\r\n"
	c.cseq = 2
	c.branch = fmt.Sprintf("z9hG4bK-fz-%d-2", n)
	p.send(p.request("INVITE", c.ruri, c.callID, c.fromTag, "", c.cseq, c.branch, c.auth, body))
	return c
}

// settle reads the answers to the current call's INVITE for a moment, to learn its To tag.
func (p *fuzzPeer) settle(c *fuzzCall) {
	if c == nil {
		return
	}
	deadline := time.After(30 * time.Millisecond)
	for {
		select {
		case m := <-p.res:
			if hdr(m, "Call-ID") == c.callID && strings.HasSuffix(hdr(m, "CSeq"), " INVITE") {
				if t := tagOf(hdr(m, "To")); t != "" && c.toTag == "" {
					c.toTag = t
				}
				if strings.HasPrefix(m, "SIP/2.0 2") {
					c.answered = true
				}
			}
		case <-deadline:
			return
		}
	}
}

func (p *fuzzPeer) ack(c *fuzzCall) {
	if c == nil {
		return
	}
	p.settle(c)
	p.send(p.request("ACK", c.ruri, c.callID, c.fromTag, c.toTag, c.cseq, fmt.Sprintf("z9hG4bK-fz-ack-%d", p.seq.Add(1)), "", nil))
}

func (p *fuzzPeer) cancel(c *fuzzCall) {
	if c == nil {
		return
	}
	p.send(p.request("CANCEL", c.ruri, c.callID, c.fromTag, "", c.cseq, c.branch, "", nil))
}

func (p *fuzzPeer) inDialog(c *fuzzCall, method string, body []byte) {
	if c == nil {
		return
	}
	p.settle(c)
	c.cseq++
	p.send(p.request(method, c.ruri, c.callID, c.fromTag, c.toTag, c.cseq, fmt.Sprintf("z9hG4bK-fz-dlg-%d", p.seq.Add(1)), "", body))
	if method == "INVITE" {
		if res := p.await(c.callID, "INVITE", 500*time.Millisecond, false); res != "" {
			p.send(p.request("ACK", c.ruri, c.callID, c.fromTag, c.toTag, c.cseq, fmt.Sprintf("z9hG4bK-fz-ack-%d", p.seq.Add(1)), "", nil))
		}
	}
}

// calleeRequest sends a request in the callee's last dialog, toward Privox.
func (p *fuzzPeer) calleeRequest(method string, body []byte) {
	p.mu.Lock()
	d := p.dialogB
	if d != nil {
		d.cseq++
	}
	p.mu.Unlock()
	if d == nil {
		return
	}
	var b strings.Builder
	branch := fmt.Sprintf("z9hG4bK-fzb-%d", p.seq.Add(1))
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=%s;rport\r\nFrom: <%s>;tag=%s\r\nTo: <%s>;tag=%s\r\n", method, d.target, p.ip, p.port(), branch, d.localURI, d.localTag, d.remoteURI, d.remoteTag)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\nContact: <sip:peer@%s:%d>\r\n", d.callID, d.cseq, method, p.ip, p.port())
	if body != nil {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	p.send(b.String())
	if method == "INVITE" {
		if res := p.await(d.callID, "INVITE", 500*time.Millisecond, false); strings.HasPrefix(res, "SIP/2.0 2") {
			ack := strings.Replace(b.String(), "INVITE "+d.target, "ACK "+d.target, 1)
			ack = strings.Replace(ack, fmt.Sprintf("CSeq: %d INVITE", d.cseq), fmt.Sprintf("CSeq: %d ACK", d.cseq), 1)
			ack = strings.Replace(ack, branch, branch+"-ack", 1)
			if i := strings.Index(ack, "Content-Type"); i >= 0 {
				ack = ack[:i] + "Content-Length: 0\r\n\r\n"
			}
			p.send(ack)
		}
	}
}

// register registers the peer's address as user.
func (p *fuzzPeer) register(user, password string) bool {
	for attempt, auth := 0, ""; attempt < 2; attempt++ {
		callID := fmt.Sprintf("fuzzreg-%s-%d", user, attempt)
		m := fmt.Sprintf("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-fzr-%d;rport\r\nFrom: <sip:%s@127.0.0.1>;tag=r1\r\nTo: <sip:%s@127.0.0.1>\r\n"+
			"Call-ID: %s\r\nCSeq: %d REGISTER\r\nContact: <sip:%s@%s:%d>\r\nMax-Forwards: 70\r\nExpires: 3600\r\n%sContent-Length: 0\r\n\r\n",
			p.ip, p.port(), attempt, user, user, callID, attempt+1, user, p.ip, p.port(), auth)
		p.send(m)
		res := p.await(callID, "REGISTER", 3*time.Second, false)
		if strings.HasPrefix(res, "SIP/2.0 200") {
			return true
		}
		chal, err := digest.ParseChallenge(hdr(res, "WWW-Authenticate"))
		if err != nil {
			return false
		}
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: user, Password: password, Count: 1})
		if err != nil {
			return false
		}
		auth = "Authorization: " + cred.String() + "\r\n"
	}
	return false
}

// options reports whether Privox answers an OPTIONS with 200.
func (p *fuzzPeer) options() bool {
	callID := fmt.Sprintf("fuzz-options-%d", p.seq.Add(1))
	m := fmt.Sprintf("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-fzo-%s;rport\r\nFrom: <sip:1001@127.0.0.1>;tag=o\r\nTo: <sip:127.0.0.1>\r\n"+
		"Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", p.ip, p.port(), callID, callID)
	p.send(m)
	return strings.HasPrefix(p.await(callID, "OPTIONS", 3*time.Second, false), "SIP/2.0 200")
}
