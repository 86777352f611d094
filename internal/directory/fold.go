package directory

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// fold returns s in the form the index compares: lower case, letters without diacritics
// (ü → u, ß → ss, ł → l), so that "Mül", "mul" and "MÜL" find "Müller" alike. Characters that
// are neither letters nor digits become spaces.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || (c >= 'A' && c <= 'Z') || !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			switch {
			case r >= 'A' && r <= 'Z':
				b.WriteByte(byte(r) + 32)
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				b.WriteByte(byte(r))
			default:
				b.WriteByte(' ')
			}
		case r == 'ß':
			b.WriteString("ss")
		case r == 'ł' || r == 'Ł':
			b.WriteByte('l')
		case r == 'ø' || r == 'Ø':
			b.WriteByte('o')
		case r == 'æ' || r == 'Æ':
			b.WriteString("ae")
		case r == 'ı':
			b.WriteByte('i')
		case r == 'đ' || r == 'Đ':
			b.WriteByte('d')
		case r < 0x180 && latinFold[r-0x80] != "":
			b.WriteString(latinFold[r-0x80])
		default:
			var buf [16]byte
			d := norm.NFD.AppendString(buf[:0], string(r))
			wrote := false
			for _, dr := range string(d) {
				if unicode.Is(unicode.Mn, dr) {
					continue
				}
				if unicode.IsLetter(dr) || unicode.IsDigit(dr) {
					b.WriteRune(unicode.ToLower(dr))
					wrote = true
				}
			}
			if !wrote {
				b.WriteByte(' ')
			}
		}
	}
	return b.String()
}

// latinFold holds the folded form of U+0080 to U+017F (Latin-1 Supplement and Latin
// Extended-A, where the names of most directories live), computed once.
var latinFold [0x100]string

func init() {
	for r := rune(0x80); r < 0x180; r++ {
		if r == 'ß' || r == 'ł' || r == 'Ł' || r == 'ø' || r == 'Ø' || r == 'æ' || r == 'Æ' || r == 'ı' || r == 'đ' || r == 'Đ' {
			continue // handled before the table
		}
		var out []rune
		for _, dr := range norm.NFD.String(string(r)) {
			if !unicode.Is(unicode.Mn, dr) && (unicode.IsLetter(dr) || unicode.IsDigit(dr)) {
				out = append(out, unicode.ToLower(dr))
			}
		}
		if len(out) > 0 {
			latinFold[r-0x80] = string(out)
		} else {
			latinFold[r-0x80] = " "
		}
	}
}

// tokens splits a name into folded tokens (every name part: "Müller-Lüdenscheidt" gives
// "muller" and "ludenscheidt").
func tokens(s string) []string { return strings.Fields(fold(s)) }
