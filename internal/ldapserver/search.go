package ldapserver

import (
	"context"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/privox/privox/internal/store"
)

// Search scopes.
const (
	scopeBase = 0
	scopeOne  = 1
	scopeSub  = 2
)

// flushAt is how much encoded output a search buffers before writing it out.
const flushAt = 32 << 10

func (ss *session) search(id int64, b []byte, ctrls []control) bool {
	bad := func() bool {
		ss.disconnect(resProtocolError, "malformed search request")
		return false
	}
	var els [8]element
	rest := b
	for i := range els {
		e, r, err := next(rest)
		if err != nil {
			return bad()
		}
		els[i], rest = e, r
	}
	if els[0].tag != 0x04 || els[1].tag != 0x0a || els[2].tag != 0x0a || els[3].tag != 0x02 || els[4].tag != 0x02 || els[5].tag != 0x01 || els[7].tag != 0x30 {
		return bad()
	}
	base := string(els[0].val)
	scope, err1 := integer(els[1].val)
	sizeLimit, err2 := integer(els[3].val)
	timeLimit, err3 := integer(els[4].val)
	if err1 != nil || err2 != nil || err3 != nil || scope < 0 || scope > 2 {
		return bad()
	}
	typesOnly := len(els[5].val) == 1 && els[5].val[0] != 0
	done := func(code int, msg string, cookie []byte, paged bool) bool {
		m := ss.out.begin(0x30)
		ss.out.int(0x02, id)
		r := ss.out.begin(0x65)
		ss.result(code, "", msg)
		ss.out.end(r)
		if paged {
			cs := ss.out.begin(0xa0)
			c := ss.out.begin(0x30)
			ss.out.str(0x04, oidPaged)
			v := ss.out.begin(0x04)
			seq := ss.out.begin(0x30)
			ss.out.int(0x02, 0)
			ss.out.bytes(0x04, cookie)
			ss.out.end(seq)
			ss.out.end(v)
			ss.out.end(c)
			ss.out.end(cs)
		}
		ss.out.end(m)
		ss.s.ops.WithLabelValues("search", strconv.Itoa(code)).Inc()
		return ss.flush()
	}
	nodes := 0
	filter, err := decodeFilterElement(els[6], 0, &nodes)
	if err != nil {
		return done(resProtocolError, err.Error(), nil, false)
	}
	sel, err := selection(els[7].val)
	if err != nil {
		return bad()
	}
	// Paged results (RFC 2696): the cookie is the number of matches already sent.
	var pageSize, offset int64
	paged := false
	for _, c := range ctrls {
		switch c.oid {
		case oidPaged:
			size, cookie, ok := pagedValue(c.value)
			if !ok {
				return done(resProtocolError, "malformed paged results control", nil, false)
			}
			paged, pageSize = true, size
			if len(cookie) == 8 {
				offset = int64(binary.BigEndian.Uint64(cookie))
			} else if len(cookie) != 0 {
				return done(resUnwilling, "unknown paging cookie", nil, false)
			}
		default:
			if c.critical {
				return done(resUnavailableCrit, "unsupported critical control "+c.oid, nil, false)
			}
		}
	}
	if paged && pageSize == 0 {
		// A page size of 0 abandons the paged search.
		return done(resSuccess, "", nil, true)
	}
	if normDN(base) == "" && scope == scopeBase {
		ss.rootDSE(id, sel, typesOnly)
		return done(resSuccess, "", nil, paged)
	}
	if ss.tenant.ID == 0 {
		if ss.bound {
			return done(resInsufficientAcc, "", nil, paged)
		}
		return done(resInsufficientAcc, "bind first: anonymous access is disabled", nil, paged)
	}
	tb := tenantBase(ss.tenant.Name)
	nb := normDN(base)
	var only int64
	switch {
	case nb == normDN(tb):
		if scope == scopeBase {
			ss.tenantEntry(id, tb, sel, typesOnly)
			return done(resSuccess, "", nil, paged)
		}
	case strings.HasSuffix(nb, ","+normDN(tb)) && strings.HasPrefix(nb, "uid="):
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(nb, "uid="), ","+normDN(tb)), 10, 64)
		if err != nil || n <= 0 {
			return done(resNoSuchObject, "", nil, paged)
		}
		only = n
	default:
		return done(resNoSuchObject, "", nil, paged)
	}
	limit := int64(ss.s.cfg.SizeLimit)
	if sizeLimit > 0 && sizeLimit < limit {
		limit = sizeLimit
	}
	if paged && pageSize < limit {
		limit = pageSize
	}
	deadline := ss.s.cfg.TimeLimit
	if timeLimit > 0 && time.Duration(timeLimit)*time.Second < deadline {
		deadline = time.Duration(timeLimit) * time.Second
	}
	country, err := ss.s.dir.Country(context.Background(), ss.tenant.ID)
	if err != nil {
		return done(resOperationsError, "", nil, paged)
	}
	m := matcher{country: country}
	plan := m.plan(filter)
	start := time.Now()
	var matched, sent int64
	code := resSuccess
	more := false
	writeErr := false
	n := 0
	ss.s.dir.Index(ss.tenant.ID).Scan(ss.viewer, plan, func(c *store.Contact) bool {
		n++
		if n&255 == 0 && time.Since(start) > deadline {
			code = resTimeLimit
			return false
		}
		if only != 0 && c.ID != only {
			return true
		}
		if !m.match(filter, c) {
			return true
		}
		matched++
		if matched <= offset {
			return true
		}
		if sent == limit {
			if paged {
				more = true
			} else {
				code = resSizeLimit
			}
			return false
		}
		ss.entry(id, tb, c, sel, typesOnly)
		sent++
		if len(ss.out.b) > flushAt && !ss.flush() {
			writeErr = true
			return false
		}
		return true
	})
	if writeErr {
		return false
	}
	if only != 0 && matched == 0 && scope == scopeBase {
		// The entry may exist and not match; only an unknown one is noSuchObject.
		if ss.s.dir.Index(ss.tenant.ID).Len() == 0 {
			return done(resNoSuchObject, "", nil, paged)
		}
	}
	var cookie []byte
	if more {
		cookie = binary.BigEndian.AppendUint64(nil, uint64(offset+sent))
	}
	ss.s.dir.Count("ldap", sent > 0)
	return done(code, "", cookie, paged)
}

func pagedValue(v []byte) (int64, []byte, bool) {
	seq, _, err := next(v)
	if err != nil || seq.tag != 0x30 {
		return 0, nil, false
	}
	size, rest, err := next(seq.val)
	if err != nil || size.tag != 0x02 {
		return 0, nil, false
	}
	n, err := integer(size.val)
	if err != nil || n < 0 {
		return 0, nil, false
	}
	cookie, _, err := next(rest)
	if err != nil || cookie.tag != 0x04 || len(cookie.val) > 64 {
		return 0, nil, false
	}
	return n, cookie.val, true
}

// attrSelection is the attribute list of a search.
type attrSelection struct {
	all   bool
	plus  bool
	raw   []string
	attrs []selected
}

type selected struct {
	name string // as the client asked for it
	def  *attrDef
}

func selection(b []byte) (attrSelection, error) {
	var s attrSelection
	n := 0
	for len(b) > 0 {
		e, rest, err := next(b)
		if err != nil || e.tag != 0x04 {
			return s, errBER
		}
		n++
		if n > 64 {
			return s, errBER
		}
		name := string(e.val)
		s.raw = append(s.raw, name)
		switch l := strings.ToLower(name); {
		case l == "*":
			s.all = true
		case l == "+":
			s.plus = true
		case l == "1.1":
		default:
			if d := attrByName[l]; d != nil {
				s.attrs = append(s.attrs, selected{name: name, def: d})
			}
		}
		b = rest
	}
	if n == 0 {
		s.all = true
	}
	return s, nil
}

// entry writes one SearchResultEntry for a contact.
func (ss *session) entry(id int64, base string, c *store.Contact, sel attrSelection, typesOnly bool) {
	e := &ss.out
	m := e.begin(0x30)
	e.int(0x02, id)
	r := e.begin(0x64)
	dn := e.begin(0x04)
	e.b = append(e.b, "uid="...)
	e.b = strconv.AppendInt(e.b, c.ID, 10)
	e.b = append(e.b, ',')
	e.b = append(e.b, base...)
	e.end(dn)
	list := e.begin(0x30)
	write := func(name string, d *attrDef) {
		if d.kind == kindClass {
			a := e.begin(0x30)
			e.str(0x04, name)
			vals := e.begin(0x31)
			if !typesOnly {
				for _, oc := range objectClasses {
					e.str(0x04, oc)
				}
			}
			e.end(vals)
			e.end(a)
			return
		}
		v := d.get(c)
		if v == "" {
			return
		}
		a := e.begin(0x30)
		e.str(0x04, name)
		vals := e.begin(0x31)
		if !typesOnly {
			e.str(0x04, v)
		}
		e.end(vals)
		e.end(a)
	}
	if sel.all {
		for _, d := range userAttrs {
			write(d.name, d)
		}
	}
	for _, s := range sel.attrs {
		if sel.all && s.def.name == s.name {
			continue
		}
		write(s.name, s.def)
	}
	e.end(list)
	e.end(r)
	e.end(m)
}

// rootDSE writes the root DSE (RFC 4512 §5.1).
func (ss *session) rootDSE(id int64, sel attrSelection, typesOnly bool) {
	attrs := [][2]string{{"objectClass", "top"}, {"supportedLDAPVersion", "3"}, {"supportedControl", oidPaged},
		{"supportedExtension", oidStartTLS}, {"vendorName", "Privox"}, {"supportedSASLMechanisms", ""}}
	if ss.tenant.ID != 0 {
		attrs = append(attrs, [2]string{"namingContexts", tenantBase(ss.tenant.Name)})
	}
	ss.plainEntry(id, "", attrs, sel, typesOnly)
}

func (ss *session) tenantEntry(id int64, dn string, sel attrSelection, typesOnly bool) {
	ss.plainEntry(id, dn, [][2]string{{"objectClass", "top"}, {"objectClass", "organization"}, {"o", ss.tenant.Name}}, sel, typesOnly)
}

// plainEntry writes an entry from attribute/value pairs (a name may repeat). Its attributes
// are returned for "*", "+", no selection or by name.
func (ss *session) plainEntry(id int64, dn string, attrs [][2]string, sel attrSelection, typesOnly bool) {
	want := func(name string) bool {
		if sel.all || sel.plus {
			return true
		}
		for _, r := range sel.raw {
			if strings.EqualFold(r, name) {
				return true
			}
		}
		return false
	}
	e := &ss.out
	m := e.begin(0x30)
	e.int(0x02, id)
	r := e.begin(0x64)
	e.str(0x04, dn)
	list := e.begin(0x30)
	for i := 0; i < len(attrs); {
		name := attrs[i][0]
		j := i
		for j < len(attrs) && attrs[j][0] == name {
			j++
		}
		if want(name) {
			a := e.begin(0x30)
			e.str(0x04, name)
			vals := e.begin(0x31)
			if !typesOnly {
				for _, kv := range attrs[i:j] {
					if kv[1] != "" {
						e.str(0x04, kv[1])
					}
				}
			}
			e.end(vals)
			e.end(a)
		}
		i = j
	}
	e.end(list)
	e.end(r)
	e.end(m)
}
