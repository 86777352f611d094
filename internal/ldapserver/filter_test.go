package ldapserver

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/store"
)

// encodeFilter writes a filter as BER (the form clients send).
func encodeFilter(e *encoder, f *Filter) {
	switch f.Op {
	case OpAnd, OpOr, OpNot:
		p := e.begin(0xa0 | byte(f.Op))
		for _, c := range f.Children {
			encodeFilter(e, c)
		}
		e.end(p)
	case OpPresent:
		e.str(0x87, f.Attr)
	case OpSubstrings:
		p := e.begin(0xa4)
		e.str(0x04, f.Attr)
		q := e.begin(0x30)
		if f.Initial != "" {
			e.str(0x80, f.Initial)
		}
		for _, a := range f.Any {
			e.str(0x81, a)
		}
		if f.Final != "" {
			e.str(0x82, f.Final)
		}
		e.end(q)
		e.end(p)
	default:
		p := e.begin(0xa0 | byte(f.Op))
		e.str(0x04, f.Attr)
		e.str(0x04, f.Value)
		e.end(p)
	}
}

var goldenContacts = []store.Contact{
	{ID: 1, DisplayName: "Hans Müller", GivenName: "Hans", FamilyName: "Müller", Company: "Müller Bau GmbH",
		Numbers: store.Numbers{Work: "030 1234567", Mobile: "0171 2345678"}, E164: store.Numbers{Work: "+49301234567", Mobile: "+491712345678"}},
	{ID: 2, DisplayName: "Petra Müllerschön", GivenName: "Petra", FamilyName: "Müllerschön",
		Numbers: store.Numbers{Work: "+49 89 987654-12"}, E164: store.Numbers{Work: "+498998765412"}},
	{ID: 3, DisplayName: "Anna Schmidt", GivenName: "Anna", FamilyName: "Schmidt", Email: "anna@example.test",
		Numbers: store.Numbers{Work: "0049 40 5551234", Other: "1234"}, E164: store.Numbers{Work: "+49405551234"}},
	{ID: 4, DisplayName: "Jürgen Mühlberg", GivenName: "Jürgen", FamilyName: "Mühlberg",
		Numbers: store.Numbers{Home: "040 7654321"}, E164: store.Numbers{Home: "+49407654321"}},
	{ID: 5, DisplayName: "Empfang", Company: "Privox"},
}

// TestFilterGolden evaluates the filters desk phones send (testdata/filters.golden: one filter
// per line, then " => " and the matching entry ids) through BER encoding and decoding, over
// both the plan and a full scan, which must agree.
func TestFilterGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/filters.golden")
	if err != nil {
		t.Fatal(err)
	}
	m := matcher{country: "DE"}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs, want, ok := strings.Cut(line, " => ")
		if !ok {
			t.Fatalf("bad golden line %q", line)
		}
		f, err := ParseFilter(fs)
		if err != nil {
			t.Errorf("%s: %v", fs, err)
			continue
		}
		if !strings.EqualFold(f.String(), fs) {
			t.Errorf("round trip: %q became %q", fs, f.String())
		}
		var e encoder
		encodeFilter(&e, f)
		g, err := decodeFilter(e.b)
		if err != nil || g.String() != f.String() {
			t.Errorf("%s: BER round trip: %v %v", fs, g, err)
			continue
		}
		var got []string
		for i := range goldenContacts {
			if m.match(g, &goldenContacts[i]) {
				got = append(got, itoa(goldenContacts[i].ID))
			}
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s => %s, want %s", fs, strings.Join(got, ","), want)
		}
		// The plan must keep every match: a contact that matches is a candidate.
		p := m.plan(g)
		for _, id := range got {
			c := goldenContacts[id[0]-'1']
			if !planHolds(p, &c) {
				t.Errorf("%s: plan %+v drops entry %s", fs, p, id)
			}
		}
		n++
	}
	if n < 20 {
		t.Fatalf("only %d golden filters", n)
	}
}

func itoa(n int64) string { return string(rune('0' + n)) }

// planHolds reports whether a plan selects a contact (the index's rules, for one entry).
func planHolds(p directory.Plan, c *store.Contact) bool {
	if p.All {
		return true
	}
	toks := strings.Fields(directory.Fold(c.DisplayName + " " + c.GivenName + " " + c.FamilyName))
	for _, n := range p.Names {
		for _, tk := range toks {
			if strings.HasPrefix(tk, n) {
				return true
			}
		}
	}
	entered := c.Numbers.Slots()
	for i, e := range c.E164.Slots() {
		d := strings.TrimPrefix(*e, "+")
		if d == "" {
			if x := directory.Digits(*entered[i]); x != "" {
				for _, n := range p.Numbers {
					if n == "x"+x {
						return true
					}
				}
			}
			continue
		}
		for _, n := range p.Numbers {
			if d == n {
				return true
			}
		}
		for _, n := range p.NumPrefixes {
			if strings.HasPrefix(d, n) {
				return true
			}
		}
		for _, n := range p.NumSuffixes {
			if strings.HasSuffix(d, n) {
				return true
			}
		}
	}
	return false
}

func TestFilterLimits(t *testing.T) {
	deep := strings.Repeat("(!", 10000) + "(cn=a)" + strings.Repeat(")", 10000)
	if _, err := ParseFilter(deep); err == nil {
		t.Error("10,000-deep filter parsed")
	}
	// The same nesting in BER: definite lengths, 10,000 levels.
	inner := []byte{0x87, 0x02, 'c', 'n'}
	for i := 0; i < 10000; i++ {
		var e encoder
		e.bytes(0xa2, inner)
		inner = e.b
	}
	if _, err := decodeFilter(inner); err == nil {
		t.Error("10,000-deep BER filter decoded")
	}
	big := "(cn=" + strings.Repeat("a", 1<<20) + "*)"
	if _, err := ParseFilter(big); err == nil {
		t.Error("1 MB substring parsed")
	}
	for _, bad := range []string{"", "(", "()", "(cn=a", "cn=a", "(&)", "(!(a=b)(c=d))", "(cn=\\zz)", "(cn=a)(cn=b)", "(cn>=a*)", "(=a)"} {
		if _, err := ParseFilter(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzDecodeFilter(f *testing.F) {
	for _, s := range []string{"(|(cn=Mül*)(sn=Mül*))", "(&(telephoneNumber=*)(sn=a*b*c))", "(!(objectClass=person))", "(cn~=meier)"} {
		p, _ := ParseFilter(s)
		var e encoder
		encodeFilter(&e, p)
		f.Add(e.b)
	}
	m := matcher{country: "DE"}
	f.Fuzz(func(t *testing.T, b []byte) {
		flt, err := decodeFilter(b)
		if err != nil {
			return
		}
		for i := range goldenContacts {
			m.match(flt, &goldenContacts[i])
		}
		m.plan(flt)
		if _, err := ParseFilter(flt.String()); err != nil && flt.Op != OpExtensible {
			t.Fatalf("decoded filter %q does not parse back: %v", flt.String(), err)
		}
	})
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"(|(cn=%*)(sn=%*))", "(&(telephoneNumber=*)(sn=Mü*))", "(|(telephoneNumber=+4930*)(mobile=*1234))", "(cn=a\\2ab)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			return
		}
		g, err := ParseFilter(flt.String())
		if err != nil || g.String() != flt.String() {
			t.Fatalf("%q: printed %q does not round-trip: %v", s, flt.String(), err)
		}
	})
}

// FuzzMessage feeds whole LDAP messages (after the outer SEQUENCE) to a session whose
// answers go nowhere.
func FuzzMessage(f *testing.F) {
	f.Add([]byte{0x02, 0x01, 0x01, 0x42, 0x00})
	f.Add([]byte{0x02, 0x01, 0x02, 0x60, 0x0c, 0x02, 0x01, 0x03, 0x04, 0x02, 'c', 'n', 0x80, 0x03, 'p', 'w', 'd'})
	f.Add([]byte{0x02, 0x01, 0x03, 0x63, 0x1c, 0x04, 0x00, 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
		0x01, 0x01, 0x00, 0x87, 0x0b, 'o', 'b', 'j', 'e', 'c', 't', 'C', 'l', 'a', 's', 's', 0x30, 0x00})
	db, err := store.Open(context.Background(), store.SQLite, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	srv := New(Config{AnonymousTenant: ""}, Deps{DB: db, Directory: directory.New(db, nil, nil)})
	f.Fuzz(func(t *testing.T, b []byte) {
		ss := &session{s: srv, conn: discardConn{}}
		ss.handle(b)
	})
}

type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) Close() error                     { return nil }
