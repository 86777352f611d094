package sip_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/privox/privox/internal/sip"
)

// Tests that drive Privox with sipgo's own client (the Go SIP stack Privox is built on) where
// a sipp scenario per status code would say less: call failures and their status codes, and
// SHA-256 digest authentication.

// sipClient is a sipgo user agent sending from a loopback address of its own.
type sipClient struct {
	t  *testing.T
	ua *sipgo.UserAgent
	c  *sipgo.Client
	ip string
}

func newSIPClient(t *testing.T, ip string) *sipClient {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("privox-test"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname(ip), sipgo.WithClientConnectionAddr(ip+":0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	return &sipClient{t: t, ua: ua, c: c, ip: ip}
}

// do sends a request and answers one digest challenge with the password.
func (c *sipClient) do(req *gosip.Request, user, password string) *gosip.Response {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.c.Do(ctx, req)
	if err != nil {
		c.t.Fatalf("%s: %v", req.Method, err)
	}
	if (res.StatusCode == 401 || res.StatusCode == 407) && password != "" {
		res, err = c.c.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
		if err != nil {
			c.t.Fatalf("%s with credentials: %v", req.Method, err)
		}
	}
	return res
}

func (e *env) invite(from, to string) *gosip.Request {
	req := gosip.NewRequest(gosip.INVITE, gosip.Uri{Scheme: "sip", User: to, Host: "127.0.0.1", Port: port(e.addr("udp"))})
	req.AppendHeader(&gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: from, Host: "127.0.0.1"}, Params: tagParam()})
	req.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: from, Host: "127.0.0.2", Port: 5999}})
	req.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
	return req
}

func port(addr string) int {
	_, p, _ := strings.Cut(addr, ":")
	n := 0
	for _, c := range p {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestCallFailures(t *testing.T) {
	e := start(t, func(p *sip.Policy) { p.AuthFailures = 100 })
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	c := newSIPClient(t, "127.0.0.2")
	tests := []struct {
		name   string
		req    func() *gosip.Request
		pass   string
		status int
		check  func(res *gosip.Response) string
	}{
		{"unauthenticated gets a challenge", func() *gosip.Request { return e.invite("1001", "1002") }, "", 407,
			func(res *gosip.Response) string {
				if h := res.GetHeader("Proxy-Authenticate"); h == nil || !strings.Contains(h.Value(), `realm="default"`) {
					return "no Proxy-Authenticate for realm default"
				}
				return ""
			}},
		{"wrong password", func() *gosip.Request { return e.invite("1001", "1002") }, "wrong-password", 403, nil},
		{"unknown number", func() *gosip.Request { return e.invite("1001", "4711") }, "secret-1001", 404, nil},
		{"extension not registered", func() *gosip.Request { return e.invite("1001", "1002") }, "secret-1001", 480, nil},
		{"loop", func() *gosip.Request {
			r := e.invite("1001", "1002")
			mf := gosip.MaxForwardsHeader(0)
			r.AppendHeader(&mf)
			return r
		}, "secret-1001", 483, nil},
		{"session interval too small", func() *gosip.Request {
			r := e.invite("1001", "1002")
			r.AppendHeader(gosip.NewHeader("Session-Expires", "30"))
			return r
		}, "secret-1001", 422, func(res *gosip.Response) string {
			if h := res.GetHeader("Min-SE"); h == nil || h.Value() != "90" {
				return "no Min-SE: 90"
			}
			return ""
		}},
		{"unsupported extension", func() *gosip.Request {
			r := e.invite("1001", "1002")
			r.AppendHeader(gosip.NewHeader("Require", "100rel"))
			return r
		}, "secret-1001", 420, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := c.do(tc.req(), "1001", tc.pass)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tc.status)
			}
			if tc.check != nil {
				if msg := tc.check(res); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
	// every INVITE that passed authentication and validation became a call with a CDR
	// (the writer batches CDRs, so their order is not the calls' order)
	waitFor(t, "2 CDRs", func() bool { return len(e.cdrs(t)) == 2 })
	var causes []int
	for _, c := range e.cdrs(t) {
		causes = append(causes, c.Cause)
	}
	if slices.Sort(causes); !slices.Equal(causes, []int{404, 480}) {
		t.Errorf("CDR causes %v, want 404 and 480", causes)
	}
}

func tagParam() gosip.HeaderParams {
	p := gosip.NewParams()
	p.Add("tag", gosip.GenerateTagN(8))
	return p
}

// TestDigestSHA256 turns on RFC 8760 challenges (SHA-256 first) and registers with SHA-256,
// then with MD5 answering the second challenge, each against the stored HA1 values.
func TestDigestSHA256(t *testing.T) {
	e := start(t, func(p *sip.Policy) { p.DigestAlgorithms = []string{"SHA-256", "MD5"} })
	e.ext("1001", "secret-1001")
	c := newSIPClient(t, "127.0.0.2")
	reg := func() *gosip.Request {
		req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: port(e.addr("udp"))})
		req.AppendHeader(&gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}, Params: tagParam()})
		req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}})
		req.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.2", Port: 5999}})
		return req
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := reg()
	res, err := c.c.Do(ctx, req)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("first REGISTER: %v %v", res, err)
	}
	chals := res.GetHeaders("WWW-Authenticate")
	if len(chals) != 2 || !strings.Contains(chals[0].Value(), "algorithm=SHA-256") || !strings.Contains(chals[1].Value(), "algorithm=MD5") {
		t.Fatalf("challenges %v, want SHA-256 then MD5", chals)
	}
	// sipgo answers the first challenge: SHA-256
	ok, err := c.c.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "1001", Password: "secret-1001"})
	if err != nil || ok.StatusCode != 200 {
		t.Fatalf("SHA-256 REGISTER: %v %v", ok, err)
	}
	// a client that only knows MD5 answers the second one
	for _, pw := range []string{"secret-1001", "wrong"} {
		req = reg()
		res, _ = c.c.Do(ctx, req)
		chal, err := digest.ParseChallenge(res.GetHeaders("WWW-Authenticate")[1].Value())
		if err != nil {
			t.Fatal(err)
		}
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.String(), Username: "1001", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		req2 := reg()
		req2.AppendHeader(gosip.NewHeader("Authorization", cred.String()))
		got, err := c.c.Do(ctx, req2)
		want := 200
		if pw == "wrong" {
			want = 403
		}
		if err != nil || got.StatusCode != want {
			t.Fatalf("MD5 REGISTER with password %q: %v %v, want %d", pw, got, err, want)
		}
	}
}

// TestTenantByDomain: a REGISTER names its tenant by the SIP domain of its Request-URI (the
// tenant's digest realm); an IP address or an unknown domain means the first tenant.
func TestTenantByDomain(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-default")
	var tn struct {
		ID int64 `json:"id"`
	}
	e.p.MustDo(201, "POST", "/api/v1/tenants", e.p.AdminToken, map[string]any{"name": "acme", "sip_domain": "acme.example"}, &tn)
	e.p.MustDo(201, "POST", "/api/v1/tenants/"+itoa(tn.ID)+"/extensions", e.p.AdminToken, map[string]any{"number": "1001", "sip_password": "secret-acme"}, nil)
	c := newSIPClient(t, "127.0.0.2")
	reg := func(domain string) *gosip.Request {
		req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: domain})
		req.SetDestination(e.addr("udp"))
		req.AppendHeader(&gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: domain}, Params: tagParam()})
		req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: domain}})
		req.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.2", Port: 5999}})
		return req
	}
	for _, tc := range []struct {
		domain, password string
		status           int
		realm            string
	}{
		{"acme.example", "secret-acme", 200, "acme.example"},
		{"acme.example", "secret-default", 403, "acme.example"},
		{"127.0.0.1", "secret-default", 200, "default"},
		{"unknown.example", "secret-default", 200, "default"},
	} {
		res := c.do(reg(tc.domain), "1001", "")
		if h := res.GetHeader("WWW-Authenticate"); h == nil || !strings.Contains(h.Value(), `realm="`+tc.realm+`"`) {
			t.Errorf("%s: challenge %v, want realm %s", tc.domain, h, tc.realm)
		}
		if res := c.do(reg(tc.domain), "1001", tc.password); res.StatusCode != tc.status {
			t.Errorf("%s with %s: %d, want %d", tc.domain, tc.password, res.StatusCode, tc.status)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestLimits: an oversized datagram is dropped without an answer, and a source beyond its
// rate gets no answers until its bucket refills (loopback is not exempt in this test).
func TestLimits(t *testing.T) {
	e := start(t, func(p *sip.Policy) {
		p.RateExempt = nil
		p.RatePerSource, p.BurstPerSource = 5, 10
	})
	c := udpFrom(t, "127.0.0.9")
	big := strings.Replace(options("big"), "Content-Length: 0", "X-Padding: "+strings.Repeat("x", 20000)+"\r\nContent-Length: 0", 1)
	send(t, c, e.addr("udp"), big)
	if res := recv(c, 500*time.Millisecond); res != "" {
		t.Errorf("oversized datagram answered: %q", firstLine(res))
	}
	answered := 0
	for i := 0; i < 30; i++ {
		send(t, c, e.addr("udp"), options("burst-"+strconv.Itoa(i)))
	}
	for recv(c, 300*time.Millisecond) != "" {
		answered++
	}
	if answered < 8 || answered > 12 {
		t.Errorf("%d of 30 answered, want about the burst of 10", answered)
	}
	if _, limited := e.srv().Dropped(); limited == 0 {
		t.Error("nothing counted as rate-limited")
	}
	time.Sleep(1100 * time.Millisecond) // the bucket refills at 5/s
	send(t, c, e.addr("udp"), options("after"))
	if res := recv(c, time.Second); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Errorf("after the refill: %q", firstLine(res))
	}
}
