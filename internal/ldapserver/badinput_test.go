package ldapserver

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/credential"
	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/store"
)

// badEnv is a server on loopback with one tenant, 2,000 contacts and a bind account.
type badEnv struct {
	s    *Server
	addr string
}

func startBad(t *testing.T) *badEnv {
	ctx := context.Background()
	db, err := store.Open(ctx, store.SQLite, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ten, _ := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
	dir := directory.New(db, nil, nil)
	book, err := dir.CreatePhonebook(ctx, store.Phonebook{TenantID: ten.ID, Kind: store.BookCompany, Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	var cs []store.Contact
	for i := 0; i < 2000; i++ {
		cs = append(cs, store.Contact{Key: fmt.Sprint(i), GivenName: "Name", FamilyName: fmt.Sprintf("Person%04d %s", i, strings.Repeat("x", 200))})
	}
	if _, err := dir.Upsert(ctx, book, cs); err != nil {
		t.Fatal(err)
	}
	h, _ := credential.HashPassword("phones-password")
	if _, err := db.CreateLDAPAccount(ctx, store.LDAPAccount{TenantID: ten.ID, Name: "phones", Hash: h}); err != nil {
		t.Fatal(err)
	}
	s := New(Config{Addr: "127.0.0.1:0", WriteTimeout: time.Second}, Deps{DB: db, Directory: dir})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return &badEnv{s: s, addr: s.Addr("ldap")}
}

func message(id int64, op func(e *encoder)) []byte {
	var e encoder
	m := e.begin(0x30)
	e.int(0x02, id)
	op(&e)
	e.end(m)
	return e.b
}

func bindMsg(id int64) []byte {
	return message(id, func(e *encoder) {
		b := e.begin(0x60)
		e.int(0x02, 3)
		e.str(0x04, "cn=phones,o=acme,dc=privox")
		e.str(0x80, "phones-password")
		e.end(b)
	})
}

func searchMsg(id int64, filter []byte) []byte {
	return message(id, func(e *encoder) {
		s := e.begin(0x63)
		e.str(0x04, "o=acme,dc=privox")
		e.int(0x0a, 1)
		e.int(0x0a, 0)
		e.int(0x02, 0)
		e.int(0x02, 0)
		e.bool(0x01, false)
		e.b = append(e.b, filter...)
		a := e.begin(0x30)
		e.end(a)
		e.end(s)
	})
}

// roundTrip sends b and reads until the server answers a search done (returning its
// result code), sends a notice of disconnection or closes.
func roundTrip(t *testing.T, c net.Conn, b []byte) (code int, closed bool) {
	t.Helper()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(b); err != nil {
		return -1, true
	}
	buf := make([]byte, 0, 1<<16)
	tmp := make([]byte, 1<<16)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			el, rest, perr := next(buf)
			if perr != nil {
				break
			}
			_, r2, _ := next(el.val)
			op, _, _ := next(r2)
			switch op.tag {
			case 0x65, 0x61:
				rc, _, _ := next(op.val)
				v, _ := integer(rc.val)
				return int(v), false
			case 0x78:
				return resProtocolError, true
			}
			buf = rest
		}
		if err != nil {
			return -1, true
		}
	}
}

func TestBadInput(t *testing.T) {
	e := startBad(t)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if code, _ := roundTrip(t, c, bindMsg(1)); code != resSuccess {
			t.Fatalf("bind: %d", code)
		}
		return c
	}
	present := []byte{0x87, 0x02, 'c', 'n'}
	// A filter nested 10,000 levels deep: protocol error, the connection stays usable.
	deep := present
	for i := 0; i < 10000; i++ {
		var enc encoder
		enc.bytes(0xa2, deep)
		deep = enc.b
	}
	c := dial()
	if code, closed := roundTrip(t, c, searchMsg(2, deep)); code != resProtocolError || closed {
		t.Errorf("deep filter: code %d closed %v", code, closed)
	}
	if code, _ := roundTrip(t, c, searchMsg(3, present)); code != resSizeLimit && code != resSuccess {
		t.Errorf("search after the deep filter: %d", code)
	}
	// A 1 MB substring: larger than a request may be, the server says so and closes.
	var sub encoder
	p := sub.begin(0xa4)
	sub.str(0x04, "cn")
	q := sub.begin(0x30)
	sub.str(0x80, strings.Repeat("a", 1<<20))
	sub.end(q)
	sub.end(p)
	c = dial()
	if _, closed := roundTrip(t, c, searchMsg(4, sub.b)); !closed {
		t.Error("1 MB substring did not close the connection")
	}
	// Malformed BER: a length longer than the message.
	c = dial()
	if _, closed := roundTrip(t, c, []byte{0x30, 0x05, 0x02, 0x01, 0x05, 0x63, 0x7f}); !closed {
		t.Error("malformed BER did not close the connection")
	}
	// Garbage that is not LDAP at all.
	c = dial()
	if _, closed := roundTrip(t, c, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); !closed {
		t.Error("HTTP request did not close the connection")
	}
	// A client that sends searches and never reads: the server stops writing once the
	// socket is full and closes the connection after the write timeout.
	c = dial()
	go func() {
		for i := int64(10); i < 200; i++ {
			if _, err := c.Write(searchMsg(i, present)); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for e.s.nconn.Load() > 4 || connOpen(e, c) {
		if time.Now().After(deadline) {
			t.Fatalf("the connection of a client that never reads is still open (%d connections)", e.s.nconn.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// connOpen reports whether the server still holds the connection whose peer is c.
func connOpen(e *badEnv, c net.Conn) bool {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	for sc := range e.s.conns {
		if sc.RemoteAddr().String() == c.LocalAddr().String() {
			return true
		}
	}
	return false
}
