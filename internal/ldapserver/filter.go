package ldapserver

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Filter is a decoded search filter (RFC 4511 §4.5.1).
type Filter struct {
	Op       FilterOp
	Attr     string // lower-case attribute description
	Value    string // equality, ordering and approximate assertions
	Initial  string // substrings: the parts between wildcards
	Any      []string
	Final    string
	Children []*Filter

	// Per-search caches of the folded assertion and its number key (a filter is decoded per
	// request and evaluated by one goroutine).
	folded   *foldedParts
	numKey   string
	numDigit string
	numDone  bool
}

type foldedParts struct {
	value, initial, final string
	any                   []string
}

// FilterOp names a filter choice; the values are the BER context tags.
type FilterOp byte

const (
	OpAnd        FilterOp = 0
	OpOr         FilterOp = 1
	OpNot        FilterOp = 2
	OpEqual      FilterOp = 3
	OpSubstrings FilterOp = 4
	OpGreater    FilterOp = 5
	OpLess       FilterOp = 6
	OpPresent    FilterOp = 7
	OpApprox     FilterOp = 8
	OpExtensible FilterOp = 9
)

// Limits on filters a client may send; deeper or larger ones are a protocol error.
const (
	maxFilterDepth = 32
	maxFilterNodes = 512
	maxValueLen    = 1024
)

var errFilter = errors.New("unsupported or malformed filter")

// decodeFilter decodes a BER filter from its encoding.
func decodeFilter(b []byte) (*Filter, error) {
	el, rest, err := next(b)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: trailing data", errFilter)
	}
	nodes := 0
	return decodeFilterElement(el, 0, &nodes)
}

func decodeFilterElement(el element, depth int, nodes *int) (*Filter, error) {
	*nodes++
	if depth > maxFilterDepth || *nodes > maxFilterNodes {
		return nil, fmt.Errorf("%w: nested deeper than %d or more than %d terms", errFilter, maxFilterDepth, maxFilterNodes)
	}
	if el.tag&0xc0 != 0x80 {
		return nil, fmt.Errorf("%w: not a context tag", errFilter)
	}
	f := &Filter{Op: FilterOp(el.tag & 0x1f)}
	constructed := el.tag&0x20 != 0
	switch f.Op {
	case OpAnd, OpOr, OpNot:
		if !constructed {
			return nil, errFilter
		}
		for b := el.val; len(b) > 0; {
			c, rest, err := next(b)
			if err != nil {
				return nil, err
			}
			child, err := decodeFilterElement(c, depth+1, nodes)
			if err != nil {
				return nil, err
			}
			f.Children = append(f.Children, child)
			b = rest
		}
		if f.Op == OpNot && len(f.Children) != 1 {
			return nil, fmt.Errorf("%w: NOT takes one filter", errFilter)
		}
		if f.Op != OpNot && len(f.Children) == 0 {
			return nil, fmt.Errorf("%w: empty AND or OR", errFilter)
		}
	case OpPresent:
		if constructed {
			return nil, errFilter
		}
		f.Attr = strings.ToLower(string(el.val))
	case OpEqual, OpGreater, OpLess, OpApprox:
		if !constructed {
			return nil, errFilter
		}
		a, rest, err := next(el.val)
		if err != nil {
			return nil, err
		}
		v, rest, err := next(rest)
		if err != nil || len(rest) != 0 || a.tag != 0x04 || v.tag != 0x04 {
			return nil, errFilter
		}
		f.Attr, f.Value = strings.ToLower(string(a.val)), string(v.val)
	case OpSubstrings:
		if !constructed {
			return nil, errFilter
		}
		a, rest, err := next(el.val)
		if err != nil || a.tag != 0x04 {
			return nil, errFilter
		}
		seq, rest, err := next(rest)
		if err != nil || len(rest) != 0 || seq.tag != 0x30 {
			return nil, errFilter
		}
		f.Attr = strings.ToLower(string(a.val))
		n := 0
		for b := seq.val; len(b) > 0; n++ {
			p, rest, err := next(b)
			if err != nil {
				return nil, err
			}
			*nodes++
			if *nodes > maxFilterNodes {
				return nil, errFilter
			}
			switch p.tag {
			case 0x80:
				if n != 0 {
					return nil, fmt.Errorf("%w: initial substring not first", errFilter)
				}
				f.Initial = string(p.val)
			case 0x81:
				f.Any = append(f.Any, string(p.val))
			case 0x82:
				if len(rest) != 0 {
					return nil, fmt.Errorf("%w: final substring not last", errFilter)
				}
				f.Final = string(p.val)
			default:
				return nil, errFilter
			}
			b = rest
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: substring filter without parts", errFilter)
		}
	case OpExtensible:
		return nil, fmt.Errorf("%w: extensible match is not supported", errFilter)
	default:
		return nil, errFilter
	}
	if f.Op != OpAnd && f.Op != OpOr && f.Op != OpNot && !validAttr(f.Attr) {
		return nil, fmt.Errorf("%w: invalid attribute description", errFilter)
	}
	if len(f.Attr) > 128 || len(f.Value) > maxValueLen || len(f.Initial) > maxValueLen || len(f.Final) > maxValueLen {
		return nil, fmt.Errorf("%w: assertion longer than %d octets", errFilter, maxValueLen)
	}
	for _, a := range f.Any {
		if len(a) > maxValueLen {
			return nil, fmt.Errorf("%w: assertion longer than %d octets", errFilter, maxValueLen)
		}
	}
	return f, nil
}

// ParseFilter parses the string form of a filter (RFC 4515), as phones are configured with.
func ParseFilter(s string) (*Filter, error) {
	p := &filterParser{s: s}
	f, err := p.filter(0)
	if err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("%w: trailing text at %d", errFilter, p.i)
	}
	return f, nil
}

type filterParser struct {
	s     string
	i     int
	nodes int
}

func (p *filterParser) filter(depth int) (*Filter, error) {
	p.nodes++
	if depth > maxFilterDepth || p.nodes > maxFilterNodes {
		return nil, fmt.Errorf("%w: too deep or too large", errFilter)
	}
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		return nil, fmt.Errorf("%w: '(' expected at %d", errFilter, p.i)
	}
	p.i++
	if p.i >= len(p.s) {
		return nil, errFilter
	}
	var f *Filter
	switch p.s[p.i] {
	case '&', '|', '!':
		f = &Filter{Op: map[byte]FilterOp{'&': OpAnd, '|': OpOr, '!': OpNot}[p.s[p.i]]}
		p.i++
		for p.i < len(p.s) && p.s[p.i] == '(' {
			c, err := p.filter(depth + 1)
			if err != nil {
				return nil, err
			}
			f.Children = append(f.Children, c)
		}
		if len(f.Children) == 0 || (f.Op == OpNot && len(f.Children) != 1) {
			return nil, fmt.Errorf("%w: wrong number of filters at %d", errFilter, p.i)
		}
	default:
		var err error
		if f, err = p.item(); err != nil {
			return nil, err
		}
	}
	if p.i >= len(p.s) || p.s[p.i] != ')' {
		return nil, fmt.Errorf("%w: ')' expected at %d", errFilter, p.i)
	}
	p.i++
	return f, nil
}

func (p *filterParser) item() (*Filter, error) {
	start := p.i
	for p.i < len(p.s) && strings.IndexByte("=~<>()", p.s[p.i]) < 0 {
		p.i++
	}
	attr := strings.ToLower(strings.TrimSpace(p.s[start:p.i]))
	if !validAttr(attr) || p.i >= len(p.s) {
		return nil, fmt.Errorf("%w: attribute expected at %d", errFilter, start)
	}
	op := OpEqual
	switch p.s[p.i] {
	case '~', '<', '>':
		op = map[byte]FilterOp{'~': OpApprox, '<': OpLess, '>': OpGreater}[p.s[p.i]]
		p.i++
		if p.i >= len(p.s) || p.s[p.i] != '=' {
			return nil, errFilter
		}
	case '=':
	default:
		return nil, errFilter
	}
	p.i++
	// The value runs to the closing parenthesis; '*' separates substrings.
	var parts []string
	var cur strings.Builder
	stars := 0
	for p.i < len(p.s) && p.s[p.i] != ')' {
		c := p.s[p.i]
		switch {
		case c == '(':
			return nil, fmt.Errorf("%w: unescaped '(' at %d", errFilter, p.i)
		case c == '*':
			parts = append(parts, cur.String())
			cur.Reset()
			stars++
			p.i++
		case c == '\\':
			if p.i+2 >= len(p.s) || unhex(p.s[p.i+1]) < 0 || unhex(p.s[p.i+2]) < 0 {
				return nil, fmt.Errorf("%w: bad escape at %d", errFilter, p.i)
			}
			cur.WriteByte(byte(unhex(p.s[p.i+1])<<4 | unhex(p.s[p.i+2])))
			p.i += 3
		default:
			cur.WriteByte(c)
			p.i++
		}
	}
	parts = append(parts, cur.String())
	f := &Filter{Op: op, Attr: attr}
	switch {
	case stars == 0:
		f.Value = parts[0]
	case op != OpEqual:
		return nil, fmt.Errorf("%w: wildcard in an ordering or approximate filter", errFilter)
	case stars == 1 && parts[0] == "" && parts[1] == "":
		f.Op = OpPresent
	default:
		f.Op = OpSubstrings
		f.Initial, f.Final = parts[0], parts[len(parts)-1]
		for _, a := range parts[1 : len(parts)-1] {
			if a != "" {
				f.Any = append(f.Any, a)
			}
		}
	}
	for _, v := range append([]string{f.Value, f.Initial, f.Final}, f.Any...) {
		if len(v) > maxValueLen {
			return nil, fmt.Errorf("%w: value too long", errFilter)
		}
	}
	return f, nil
}

// validAttr reports whether s is an attribute description (RFC 4512 §2.5: a name or an OID,
// with options after ";").
func validAttr(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ';') {
			return false
		}
	}
	return true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// String returns the RFC 4515 form (for golden files and diagnostics).
func (f *Filter) String() string {
	var b strings.Builder
	f.write(&b)
	return b.String()
}

func (f *Filter) write(b *strings.Builder) {
	b.WriteByte('(')
	switch f.Op {
	case OpAnd, OpOr, OpNot:
		b.WriteByte("&|!"[f.Op])
		for _, c := range f.Children {
			c.write(b)
		}
	case OpPresent:
		b.WriteString(f.Attr + "=*")
	case OpSubstrings:
		b.WriteString(f.Attr + "=" + escape(f.Initial) + "*")
		for _, a := range f.Any {
			b.WriteString(escape(a) + "*")
		}
		b.WriteString(escape(f.Final))
	default:
		b.WriteString(f.Attr + map[FilterOp]string{OpEqual: "=", OpGreater: ">=", OpLess: "<=", OpApprox: "~="}[f.Op] + escape(f.Value))
	}
	b.WriteByte(')')
}

func escape(s string) string {
	binary := !utf8.ValidString(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '*' || c == '(' || c == ')' || c == '\\' || c == 0 || (binary && c >= 0x80):
			fmt.Fprintf(&b, "\\%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
