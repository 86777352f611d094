package sip

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/credential"
	"github.com/privox/privox/internal/media"
	"github.com/privox/privox/internal/store"
)

// Fuzz targets for what an attacker controls: a SIP message arriving over the network, and
// the SDP body of a call. Their seed corpora are in testdata/fuzz (go test runs the seeds;
// go test -fuzz=FuzzSIPMessage -fuzztime=… explores further).

// fuzzServer is a Server that binds nothing, with one cached account (1001, realm
// "default") so that REGISTERs reach digest verification and the location service.
func fuzzServer(tb testing.TB) *Server {
	tb.Helper()
	db, err := store.Open(context.Background(), store.SQLite, filepath.Join(tb.TempDir(), "fuzz.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	s, err := New(Config{}, Deps{DB: db})
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().Add(time.Hour) // entries stay fresh for the whole run
	a := &account{tenantID: 1, extID: 1, number: "1001", username: "1001", realm: "default",
		ha1MD5: credential.HA1MD5("1001", "default", "secret"), ha1SHA256: credential.HA1SHA256("1001", "default", "secret")}
	s.accounts.byUser[acctKey{1, "1001"}] = acctEntry{acct: a, fetched: now}
	s.accounts.byNumber[acctKey{1, "1001"}] = acctEntry{acct: a, fetched: now}
	s.accounts.tenants[""] = tenantEntry{t: store.Tenant{ID: 1, Name: "default"}, ok: true, fetched: now}
	s.persist = nil
	s.loc.persist = nil
	return s
}

// addSeedFiles adds every file of a directory as a seed.
func addSeedFiles(f *testing.F, dirs ...string) {
	for _, dir := range dirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && !e.IsDir() {
				f.Add(b)
			}
		}
	}
}

// FuzzSIPMessage (seeds: the RFC 4475 messages and testdata/fuzz/FuzzSIPMessage) runs a datagram through everything the UDP reader does before it hands a
// message on: parsing, the stateless 400, validation, screening, the registrar (cache only)
// and OPTIONS; and it checks that what Privox would pass on to sipgo parses again.
func FuzzSIPMessage(f *testing.F) {
	addSeedFiles(f, "testdata/torture/valid", "testdata/torture/invalid")
	s := fuzzServer(f)
	src := netip.MustParseAddrPort("192.0.2.7:5060")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > s.pol().MaxMessageSize {
			return
		}
		msg, err := s.parser.ParseSIP(data)
		if err != nil {
			// The stateless answer mirrors Via, From, To, Call-ID and CSeq as received (RFC 3261
			// §8.2.6), so it may be as malformed as they are; it must still be one well-framed
			// message: a status line, header lines, an empty line, no body.
			if res := rawBadRequest(data, err); res != nil {
				if !bytes.HasPrefix(res, []byte("SIP/2.0 4")) && !bytes.HasPrefix(res, []byte("SIP/2.0 5")) ||
					!bytes.HasSuffix(res, []byte("Content-Length: 0\r\n\r\n")) ||
					bytes.Count(res, []byte("\r\n\r\n")) != 1 || bytes.Count(res, []byte("\n")) != bytes.Count(res, []byte("\r\n")) {
					t.Fatalf("our stateless answer is not one well-framed message:\n%q", res)
				}
			}
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			_ = msg.String()
			return
		}
		req.SetTransport(tpUDP)
		req.SetSource(src.String())
		if s.screen(req, src) {
			return
		}
		if res := s.validate(req); res != nil {
			_ = res.String()
			return
		}
		var res *sip.Response
		switch {
		case req.Method == sip.REGISTER:
			res, _ = s.registerCached(&inbound{req: req, src: src, transport: tpUDP})
		case req.Method == sip.OPTIONS:
			res = s.options(req)
		default:
			if legacyBranch(req) {
				// re-serialised for sipgo; the reader answers 400 when that does not parse
				if _, err := sip.ParseMessage([]byte(req.String())); err != nil {
					res = s.reply(req, 400, "Bad Request")
				}
			}
		}
		if res != nil {
			var b bytes.Buffer
			res.StringWrite(&b)
			if _, err := sip.ParseMessage(b.Bytes()); err != nil {
				t.Fatalf("our response does not parse: %v\n%q", err, b.String())
			}
		}
	})
}

// FuzzSDP runs an SDP body through the call path: offered by the caller, answered by the
// callee, both through one media session, each result put into a SIP message that must
// parse again with its body intact.
func FuzzSDP(f *testing.F) {
	// seeds: testdata/fuzz/FuzzSDP
	base := 20000 + rand.IntN(30000)&^1
	relay, err := media.NewRelay(media.Config{PortMin: base, PortMax: base + 63, BindIP: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { relay.Close() })
	ms, err := relay.NewSession("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "1002", Host: "example.com"})
		setBody(req, body)
		if got := sdpOf(req); !bytes.Equal(got, body) && len(body) > 0 {
			t.Fatalf("sdpOf lost the body")
		}
		for _, leg := range []media.LegID{media.LegA, media.LegB} {
			out, err := ms.Offer(leg, body)
			if err != nil {
				continue
			}
			res := sip.NewResponse(200, "OK")
			setBody(res, out)
			var b bytes.Buffer
			res.StringWrite(&b)
			// the response is a full SIP message on its own: add what a parser needs
			full := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n" +
				b.String()[len("SIP/2.0 200 OK\r\n"):]
			m, err := sip.ParseMessage([]byte(full))
			if err != nil {
				t.Fatalf("rewritten SDP breaks the SIP message: %v\n%q", err, full)
			}
			if !bytes.Equal(m.Body(), out) {
				t.Fatalf("rewritten SDP not intact after a round trip")
			}
			if _, err := ms.Answer(other(leg), out); err != nil {
				continue
			}
		}
	})
}

// FuzzFastRegister checks the REGISTER fast path against sipgo: whatever parseRawRegister
// accepts, sipgo must parse, validate must accept, and both must read the same registration.
func FuzzFastRegister(f *testing.F) {
	addSeedFiles(f, "testdata/torture/valid", "testdata/torture/invalid")
	s := fuzzServer(f)
	src := netip.MustParseAddrPort("192.0.2.7:5060")
	f.Fuzz(func(t *testing.T, data []byte) {
		r, ok := parseRawRegister(data)
		if !ok {
			return
		}
		msg, err := sip.ParseMessage(data)
		if err != nil {
			t.Fatalf("fast path accepted what sipgo rejects (%v):\n%q", err, data)
		}
		req, isReq := msg.(*sip.Request)
		if !isReq || req.Method != sip.REGISTER {
			t.Fatalf("fast path accepted a non-REGISTER:\n%q", data)
		}
		req.SetSource(src.String())
		req.SetTransport(tpUDP)
		if res := s.validate(req); res != nil {
			t.Fatalf("fast path accepted what validate rejects (%d %s):\n%q", res.StatusCode, res.Reason, data)
		}
		full, bad := regFromRequest(&inbound{req: req, src: src, transport: tpUDP})
		if bad != nil {
			if r.in.star && r.in.expires != 0 {
				return // the fast path leaves this to the full path too
			}
			t.Fatalf("full path rejects (%d %s) what the fast path accepts:\n%q", bad.code, bad.reason, data)
		}
		fast := r.in
		fast.src, fast.transport = src, tpUDP
		if !equivalentURI(&fast.ruri, &full.ruri) {
			t.Fatalf("Request-URI: fast %v, full %v\n%q", &fast.ruri, &full.ruri, data)
		}
		if !strings.EqualFold(fast.ruriHost, full.ruriHost) || fast.toUser != full.toUser || fast.callID != full.callID || fast.cseq != full.cseq ||
			fast.expires != full.expires || fast.star != full.star || fast.ua != full.ua || len(fast.auths) != len(full.auths) ||
			len(fast.contacts) != len(full.contacts) {
			t.Fatalf("fast and full path read differently:\nfast %+v\nfull %+v\n%q", fast, *full, data)
		}
		if r.toTag != req.To().Params.Has("tag") {
			t.Fatalf("To tag: fast %v, full %v\n%q", r.toTag, req.To().Params.Has("tag"), data)
		}
		if u, tag, ok := simpleAddr(r.from); ok && (u != req.From().Address.User || tag != req.From().Params.Has("tag")) {
			t.Fatalf("From read differently: %q %v\n%q", u, tag, data)
		}
		for i := range fast.contacts {
			if fast.contacts[i] != full.contacts[i] {
				t.Fatalf("contact %d: fast %+v full %+v\n%q", i, fast.contacts[i], full.contacts[i], data)
			}
		}
		for i := range fast.auths {
			if fast.auths[i] != full.auths[i] {
				t.Fatalf("authorization %d differs:\n%q", i, data)
			}
		}
		// the raw answer is one well-formed response that sipgo reads back
		out := s.registrar(&fast, &lookups{s: s, cacheOnly: true})
		if out == nil {
			return
		}
		var b bytes.Buffer
		s.writeRawResponse(&b, &r, src, out)
		res, err := sip.ParseMessage(b.Bytes())
		if err != nil {
			t.Fatalf("raw answer does not parse: %v\n%q", err, b.String())
		}
		if rr, ok := res.(*sip.Response); !ok || rr.StatusCode != out.code || rr.CallID().Value() != full.callID {
			t.Fatalf("raw answer %v does not match %d", res, out.code)
		}
	})
}
