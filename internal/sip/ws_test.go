package sip_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/icholy/digest"
)

// TestWebSocket: a WebSocket phone (RFC 7118, as a browser softphone is) registers as 1002 on
// the HTTP listener's /sip path, and a sipp caller over UDP calls it: Privox must reach the
// phone over the WebSocket connection the phone opened.
func TestWebSocket(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dialer{Protocols: []string{"sip"}}.Dial(ctx, "ws://"+e.p.App.HTTPAddr+"/sip")
	if err != nil {
		t.Fatalf("WebSocket upgrade on /sip: %v", err)
	}
	defer conn.Close()
	phone := &wsPhone{t: t, c: conn}

	register := func(auth string, cseq int) *gosip.Response {
		msg := "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK-ws" + strings.Repeat("x", cseq) + "\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:1002@127.0.0.1>;tag=ws1\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: ws-reg\r\n" +
			"CSeq: " + string(rune('0'+cseq)) + " REGISTER\r\nContact: <sip:1002@df7jal23ls0d.invalid;transport=ws>;expires=600\r\n" + auth + "Content-Length: 0\r\n\r\n"
		phone.send(msg)
		return phone.response()
	}
	res := register("", 1)
	if res.StatusCode != 401 {
		t.Fatalf("REGISTER over WebSocket: %d", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, _ := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: "1002", Password: "secret-1002"})
	if res := register("Authorization: "+cred.String()+"\r\n", 2); res.StatusCode != 200 {
		t.Fatalf("authenticated REGISTER over WebSocket: %d", res.StatusCode)
	}

	caller := e.sippUAC("caller", "uac.xml", "udp", "-d", "300")
	inv := phone.request()
	if inv.Method != gosip.INVITE {
		t.Fatalf("phone got %s, want INVITE", inv.Method)
	}
	if v := inv.Via(); v == nil || v.Transport != "WS" {
		t.Errorf("INVITE Via %v, want transport WS", v)
	}
	phone.reply(inv, 180, "Ringing", nil)
	phone.reply(inv, 200, "OK", []byte("v=0\r\no=ws 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
	if ack := phone.request(); ack.Method != gosip.ACK {
		t.Fatalf("phone got %s, want ACK", ack.Method)
	}
	bye := phone.request()
	if bye.Method != gosip.BYE {
		t.Fatalf("phone got %s, want BYE", bye.Method)
	}
	phone.reply(bye, 200, "OK", nil)
	caller.wait(t)
	waitFor(t, "CDR", func() bool { return len(e.cdrs(t)) == 1 })
	if c := e.cdrs(t)[0]; c.Cause != 200 {
		t.Errorf("CDR cause %d", c.Cause)
	}
}

// wsPhone is a minimal SIP-over-WebSocket phone.
type wsPhone struct {
	t       *testing.T
	c       net.Conn
	pending []gosip.Message
}

func (p *wsPhone) send(msg string) {
	p.t.Helper()
	if err := wsutil.WriteClientText(p.c, []byte(msg)); err != nil {
		p.t.Fatal(err)
	}
}

// next returns the next SIP message from the server (skipping keep-alives).
func (p *wsPhone) next() gosip.Message {
	p.t.Helper()
	for {
		p.c.SetReadDeadline(time.Now().Add(15 * time.Second))
		b, err := wsutil.ReadServerText(p.c)
		if err != nil {
			p.t.Fatalf("WebSocket read: %v", err)
		}
		if strings.TrimSpace(string(b)) == "" {
			continue
		}
		m, err := gosip.ParseMessage(b)
		if err != nil {
			p.t.Fatalf("unparseable message over WebSocket: %v\n%s", err, b)
		}
		return m
	}
}

func (p *wsPhone) response() *gosip.Response {
	p.t.Helper()
	for {
		m := p.next()
		if r, ok := m.(*gosip.Response); ok && r.StatusCode >= 200 {
			return r
		}
	}
}

func (p *wsPhone) request() *gosip.Request {
	p.t.Helper()
	for {
		if r, ok := p.next().(*gosip.Request); ok {
			return r
		}
	}
}

func (p *wsPhone) reply(req *gosip.Request, code int, reason string, sdp []byte) {
	p.t.Helper()
	res := gosip.NewResponseFromRequest(req, code, reason, nil)
	res.To().Params.Add("tag", "wsphone")
	res.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: "1002", Host: "df7jal23ls0d.invalid", UriParams: wsParam()}})
	if sdp != nil {
		res.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
	}
	res.SetBody(sdp)
	p.send(res.String())
}

func wsParam() gosip.HeaderParams {
	h := gosip.NewParams()
	h.Add("transport", "ws")
	return h
}
