package sip_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestScannersBanned attacks Privox with the real sipvicious tools (Debian package sipvicious)
// and with password guessing and extension sweeps that do not announce themselves, and checks
// that each attacker is banned, gets no answers afterwards, and that a legitimate phone still
// registers.
//
// Everything runs on loopback, where every process would share the source address
// 127.0.0.1. Rather than keying bans by address and port (which a real scanner defeats by
// changing ports), the tests keep the production behaviour and give the parties different
// loopback addresses: Linux routes all of 127.0.0.0/8 to lo, Privox listens on 127.0.0.1, the
// legitimate phone sends from 127.0.0.2, and the attackers from 127.0.0.1 (svwar and svcrack
// 0.3.3 ignore their -b option) or from addresses of their own. Each attack gets its own
// Privox, so one ban cannot hide another.
func TestScannersBanned(t *testing.T) {
	tools := map[string]string{}
	for _, name := range []string{"svmap", "svwar", "svcrack"} {
		// Debian installs them as svmap etc.; other packagings name them sipvicious_svmap.
		if p, err := exec.LookPath(name); err == nil {
			tools[name] = p
		} else if p, err := exec.LookPath("sipvicious_" + name); err == nil {
			tools[name] = p
		} else {
			t.Fatalf("%s is not installed: install the Debian package sipvicious", name)
		}
	}
	wordlist := filepath.Join(t.TempDir(), "words.txt")
	var words []string
	for i := 0; i < 40; i++ {
		words = append(words, fmt.Sprintf("guess%02d", i))
	}
	words = append(words, "secret-1001") // the right one, after forty wrong ones
	if err := os.WriteFile(wordlist, []byte(strings.Join(words, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tool := func(name string, args ...string) func(t *testing.T, e *env, port string) string {
		return func(t *testing.T, e *env, port string) string {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			full := append(append([]string(nil), args...), "-p", port, "127.0.0.1")
			cmd := exec.CommandContext(ctx, tools[name], full...)
			cmd.Dir = t.TempDir()
			out, _ := cmd.CombinedOutput() // the tools exit non-zero when they find nothing
			return string(out)
		}
	}
	attacks := []struct {
		name    string
		src     string
		attack  func(t *testing.T, e *env, port string) string
		mustNot string // what the attacker must not learn
		mustSay string // what the tool says when it learned nothing
	}{
		{"svmap", "127.0.0.3", tool("svmap", "-b", "127.0.0.3"), "| 127.0.0.1", "found nothing"},
		{"svwar", "127.0.0.1", tool("svwar", "-e", "1000-1010", "--force"), "| 1001", "found nothing"},
		{"svcrack", "127.0.0.1", tool("svcrack", "-u", "1001", "-d", wordlist), "secret-1001", "found nothing"},
		{"password guessing", "127.0.0.6", func(t *testing.T, e *env, port string) string {
			// no scanner User-Agent: banned after the allowed number of failures (10)
			bad := e.sipp("password guesser", "register_wrong.xml", e.addr("udp"), "-s", "1001", "-au", "1001", "-ap", "not-the-password",
				"-i", "127.0.0.6", "-p", strconv.Itoa(freePortOn(t, "127.0.0.6")), "-m", "12", "-r", "20", "-timeout", "10", "-recv_timeout", "2000")
			bad.end()
			return ""
		}, "", ""},
		{"extension sweep", "127.0.0.7", func(t *testing.T, e *env, port string) string {
			// no scanner User-Agent: banned after probing 20 unknown users
			c := udpFrom(t, "127.0.0.7")
			var answers []string
			for i := 0; i < 25; i++ {
				send(t, c, e.addr("udp"), register(fmt.Sprintf("%d", 2000+i), "sweep"))
				answers = append(answers, firstLine(recv(c, 300*time.Millisecond)))
			}
			return strings.Join(answers, "\n")
		}, "404", ""},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			e := start(t, nil) // the production policy: bans per source address
			e.ext("1001", "secret-1001")
			_, port, _ := net.SplitHostPort(e.addr("udp"))
			legit := func() {
				t.Helper()
				e.sipp("legitimate phone", "register_auth.xml", e.addr("udp"), "-inf", writeCSV(t, "1001;[authentication username=1001 password=secret-1001]"),
					"-key", "contact_port", "5062", "-key", "contact_transport", "udp", "-i", "127.0.0.2", "-p", strconv.Itoa(freePortOn(t, "127.0.0.2")),
					"-m", "1", "-timeout", "15").wait(t)
			}
			legit()
			out := a.attack(t, e, port)
			if a.mustNot != "" && strings.Contains(out, a.mustNot) || !strings.Contains(out, a.mustSay) {
				t.Errorf("the attacker learned something (%q):\n%s", a.mustNot, out)
			}
			if !e.srv().Banned(netip.AddrPortFrom(netip.MustParseAddr(a.src), 0)) {
				t.Fatalf("%s was not banned; the attacker saw:\n%s", a.src, out)
			}
			// A banned source gets no answer at all, even to an innocent request.
			c := udpFrom(t, a.src)
			send(t, c, e.addr("udp"), options("after-ban"))
			if res := recv(c, 500*time.Millisecond); res != "" {
				t.Errorf("banned %s got an answer: %q", a.src, firstLine(res))
			}
			// The phone still works.
			c2 := udpFrom(t, "127.0.0.2")
			send(t, c2, e.addr("udp"), options("legit-after"))
			if res := recv(c2, 2*time.Second); !strings.HasPrefix(res, "SIP/2.0 200") {
				t.Errorf("legitimate OPTIONS after the attack: %q", firstLine(res))
			}
			legit()
			if banned, _ := e.srv().Dropped(); banned == 0 {
				t.Error("no message was dropped for a ban")
			}
		})
	}
}

// freePortOn returns a free UDP port on a loopback address.
func freePortOn(t *testing.T, ip string) int {
	t.Helper()
	c, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatalf("cannot bind %s (Linux routes all of 127.0.0.0/8 to lo): %v", ip, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func udpFrom(t *testing.T, ip string) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c net.PacketConn, to, msg string) {
	t.Helper()
	a, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo([]byte(msg), a); err != nil {
		t.Fatal(err)
	}
}

func recv(c net.PacketConn, wait time.Duration) string {
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(wait))
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

func options(callID string) string {
	return "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-" + callID + ";rport\r\nMax-Forwards: 70\r\n" +
		"From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: " + callID + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
}

func register(user, callID string) string {
	return "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-" + callID + user + ";rport\r\nMax-Forwards: 70\r\n" +
		"From: <sip:" + user + "@127.0.0.1>;tag=r\r\nTo: <sip:" + user + "@127.0.0.1>\r\nCall-ID: " + callID + user + "\r\nCSeq: 1 REGISTER\r\n" +
		"Contact: <sip:" + user + "@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n"
}
