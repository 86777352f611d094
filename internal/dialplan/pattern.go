package dialplan

import (
	"fmt"
	"strings"
)

// Patterns use the syntax admins of Asterisk and FreePBX know. A pattern starts with "_";
// after it:
//
//	X      any digit 0-9
//	Z      any digit 1-9
//	N      any digit 2-9
//	[15-7] one of the listed digits (ranges allowed)
//	.      one or more further characters (only at the end)
//	!      zero or more further characters (only at the end)
//	0-9 * # +  themselves
//
// A pattern without "_" matches exactly that number. Letters are case-insensitive.

// Pattern is a compiled route pattern.
type Pattern struct {
	src   string
	elems []charSet // one per position
	tail  byte      // 0, '.' (one or more) or '!' (zero or more)
}

// charSet is the characters one position admits: a bit per digit, then '*', '#', '+'.
type charSet uint16

const (
	bitStar charSet = 1 << (10 + iota)
	bitHash
	bitPlus
)

const digitsAll charSet = 1<<10 - 1

func charBit(c byte) charSet {
	switch {
	case c >= '0' && c <= '9':
		return 1 << (c - '0')
	case c == '*':
		return bitStar
	case c == '#':
		return bitHash
	case c == '+':
		return bitPlus
	}
	return 0
}

// MaxPattern bounds a pattern's length.
const MaxPattern = 64

// PatternError is an invalid pattern, with the position (0-based) of the fault.
type PatternError struct {
	Pattern string
	Pos     int
	Msg     string
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("pattern %q: %s at position %d", e.Pattern, e.Msg, e.Pos+1)
}

// ParsePattern compiles a pattern, or says precisely what is wrong with it.
func ParsePattern(src string) (*Pattern, error) {
	perr := func(pos int, format string, args ...any) error {
		return &PatternError{Pattern: src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
	}
	if src == "" {
		return nil, &PatternError{Pattern: src, Msg: "empty"}
	}
	if len(src) > MaxPattern {
		return nil, perr(MaxPattern, "longer than %d characters", MaxPattern)
	}
	p := &Pattern{src: src}
	if src[0] != '_' {
		for i := 0; i < len(src); i++ {
			b := charBit(src[i])
			if b == 0 {
				return nil, perr(i, "%q is not a dialable character (a pattern starts with _)", src[i])
			}
			p.elems = append(p.elems, b)
		}
		return p, nil
	}
	if len(src) == 1 {
		return nil, perr(0, "nothing after _")
	}
	for i := 1; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '.' || c == '!':
			if i != len(src)-1 {
				return nil, perr(i, "%q may only end a pattern", c)
			}
			if len(p.elems) == 0 {
				return nil, perr(i, "%q needs at least one position before it", c)
			}
			p.tail = c
		case c == 'X' || c == 'x':
			p.elems = append(p.elems, digitsAll)
		case c == 'Z' || c == 'z':
			p.elems = append(p.elems, digitsAll&^1)
		case c == 'N' || c == 'n':
			p.elems = append(p.elems, digitsAll&^3)
		case c == '[':
			end := strings.IndexByte(src[i:], ']')
			if end < 0 {
				return nil, perr(i, "unclosed [")
			}
			body := src[i+1 : i+end]
			if body == "" {
				return nil, perr(i, "empty []")
			}
			var set charSet
			for j := 0; j < len(body); j++ {
				if j+2 < len(body) && body[j+1] == '-' {
					lo, hi := body[j], body[j+2]
					if lo < '0' || lo > '9' || hi < '0' || hi > '9' || lo > hi {
						return nil, perr(i+1+j, "bad range %q", body[j:j+3])
					}
					for d := lo; d <= hi; d++ {
						set |= charBit(d)
					}
					j += 2
					continue
				}
				b := charBit(body[j])
				if b == 0 {
					return nil, perr(i+1+j, "%q is not a digit or * # + inside []", body[j])
				}
				set |= b
			}
			p.elems = append(p.elems, set)
			i += end
		default:
			b := charBit(c)
			if b == 0 {
				return nil, perr(i, "%q is not a digit, * # +, X, Z, N, [..], . or !", c)
			}
			p.elems = append(p.elems, b)
		}
	}
	return p, nil
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.src }

// Match reports whether a dialled number matches the pattern.
func (p *Pattern) Match(num string) bool {
	n := len(p.elems)
	switch p.tail {
	case 0:
		if len(num) != n {
			return false
		}
	case '.':
		if len(num) <= n {
			return false
		}
	case '!':
		if len(num) < n {
			return false
		}
	}
	for i, set := range p.elems {
		if charBit(num[i])&set == 0 {
			return false
		}
	}
	if p.tail != 0 {
		for i := n; i < len(num); i++ {
			if charBit(num[i]) == 0 {
				return false
			}
		}
	}
	return true
}

// literalPrefix is the run of positions the pattern starts with that admit one character
// each: only a number starting with it can match.
func (p *Pattern) literalPrefix() string {
	b := make([]byte, 0, len(p.elems))
	for _, set := range p.elems {
		if set == 0 || set&(set-1) != 0 {
			break
		}
		for _, c := range []byte("0123456789*#+") {
			if charBit(c) == set {
				b = append(b, c)
			}
		}
	}
	return string(b)
}
