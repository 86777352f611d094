package directory

import "strings"

// Phonetic codes for name matching, written here because the usual libraries for them are GPL.
// Both take a folded token (lower case ASCII letters, see fold) and return a code; tokens that
// sound alike get the same code.

// Cologne returns the Kölner Phonetik code of a token (Postel 1969), the German standard:
// letters map to digits by their neighbours, repeated digits collapse and vowels (0) are kept
// only at the start.
func Cologne(s string) string {
	var out [64]byte
	n := 0
	var last byte = 0xff
	emit := func(d byte) {
		if d != last && n < len(out) {
			out[n] = d
			n++
		}
		last = d
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		var prev, next byte
		if i > 0 {
			prev = s[i-1]
		}
		if i+1 < len(s) {
			next = s[i+1]
		}
		switch c {
		case 'a', 'e', 'i', 'j', 'o', 'u', 'y':
			emit('0')
		case 'h':
			// not coded; it does not separate equal codes either
		case 'b':
			emit('1')
		case 'p':
			if next == 'h' {
				emit('3')
			} else {
				emit('1')
			}
		case 'd', 't':
			if next == 'c' || next == 's' || next == 'z' {
				emit('8')
			} else {
				emit('2')
			}
		case 'f', 'v', 'w':
			emit('3')
		case 'g', 'k', 'q':
			emit('4')
		case 'c':
			switch {
			case i == 0:
				if strings.IndexByte("ahkloqrux", next) >= 0 && next != 0 {
					emit('4')
				} else {
					emit('8')
				}
			case prev == 's' || prev == 'z':
				emit('8')
			case next != 0 && strings.IndexByte("ahkoqux", next) >= 0:
				emit('4')
			default:
				emit('8')
			}
		case 'x':
			if prev == 'c' || prev == 'k' || prev == 'q' {
				emit('8')
			} else {
				emit('4')
				last = 0xfe
				emit('8')
			}
		case 'l':
			emit('5')
		case 'm', 'n':
			emit('6')
		case 'r':
			emit('7')
		case 's', 'z':
			emit('8')
		default:
			last = 0xff
		}
	}
	// Drop the vowel code except at the start.
	w := 0
	for i := 0; i < n; i++ {
		if out[i] == '0' && i > 0 {
			continue
		}
		out[w] = out[i]
		w++
	}
	return string(out[:w])
}

func isVowel(c byte) bool { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' }

// Metaphone returns the Metaphone code (Philips 1990) of a token for English names, at most
// 8 characters: consonant sounds after the spelling rules of English, vowels only at the start.
// It is the single-code predecessor of Double Metaphone; it covers the common English
// spellings (ph/f, ck/k, sch, tion, gh, silent initial letters).
func Metaphone(s string) string {
	if s == "" {
		return ""
	}
	// Silent or changed initial letters.
	switch {
	case strings.HasPrefix(s, "kn"), strings.HasPrefix(s, "gn"), strings.HasPrefix(s, "pn"),
		strings.HasPrefix(s, "ae"), strings.HasPrefix(s, "wr"):
		s = s[1:]
	case s[0] == 'x':
		s = "s" + s[1:]
	case strings.HasPrefix(s, "wh"):
		s = "w" + s[2:]
	}
	var out [8]byte
	n := 0
	add := func(c ...byte) {
		for _, b := range c {
			if n < len(out) {
				out[n] = b
				n++
			}
		}
	}
	at := func(i int) byte {
		if i < 0 || i >= len(s) {
			return 0
		}
		return s[i]
	}
	for i := 0; i < len(s) && n < len(out); i++ {
		c := s[i]
		if c != 'c' && i > 0 && at(i-1) == c {
			continue
		}
		next, prev := at(i+1), at(i-1)
		switch c {
		case 'a', 'e', 'i', 'o', 'u':
			if i == 0 {
				add(c)
			}
		case 'b':
			if !(prev == 'm' && i == len(s)-1) {
				add('b')
			}
		case 'c':
			switch {
			case next == 'i' && at(i+2) == 'a', next == 'h' && prev != 's':
				add('x')
				if next == 'h' {
					i++
				}
			case next == 'h':
				add('k')
				i++
			case next == 'i' || next == 'e' || next == 'y':
				if prev != 's' {
					add('s')
				}
			default:
				add('k')
			}
		case 'd':
			if next == 'g' && (at(i+2) == 'e' || at(i+2) == 'y' || at(i+2) == 'i') {
				add('j')
				i++
			} else {
				add('t')
			}
		case 'g':
			switch {
			case next == 'h' && i+2 < len(s) && !isVowel(at(i+2)):
				// silent gh before a consonant (night)
			case next == 'h' && i+2 >= len(s):
				// silent final gh (high)
			case next == 'n' && (i+2 == len(s) || (at(i+2) == 'e' && at(i+3) == 'd' && i+4 == len(s))):
			case (next == 'i' || next == 'e' || next == 'y') && prev != 'g':
				add('j')
			default:
				add('k')
			}
		case 'h':
			if isVowel(next) && strings.IndexByte("csptg", prev) < 0 {
				add('h')
			}
		case 'k':
			if prev != 'c' {
				add('k')
			}
		case 'p':
			if next == 'h' {
				add('f')
				i++
			} else {
				add('p')
			}
		case 'q':
			add('k')
		case 's':
			switch {
			case next == 'h':
				add('x')
				i++
			case next == 'i' && (at(i+2) == 'o' || at(i+2) == 'a'):
				add('x')
			case next == 'c' && at(i+2) == 'h':
				add('s', 'k')
				i += 2
			default:
				add('s')
			}
		case 't':
			switch {
			case next == 'i' && (at(i+2) == 'o' || at(i+2) == 'a'):
				add('x')
			case next == 'h':
				add('0')
				i++
			case next == 'c' && at(i+2) == 'h':
			default:
				add('t')
			}
		case 'v':
			add('f')
		case 'w', 'y':
			if isVowel(next) {
				add(c)
			}
		case 'x':
			add('k', 's')
		case 'z':
			add('s')
		case 'f', 'j', 'l', 'm', 'n', 'r':
			add(c)
		}
	}
	return string(out[:n])
}

// SoundsLike reports whether two names share a word that sounds alike (Kölner Phonetik or
// Metaphone), for LDAP approximate matches (~=).
func SoundsLike(a, b string) bool {
	ta, tb := tokens(a), tokens(b)
	for _, x := range ta {
		kx := phonKeys(x)
		for _, y := range tb {
			ky := phonKeys(y)
			if (len(kx[0]) > 1 && kx[0] == ky[0]) || (len(kx[1]) > 1 && kx[1] == ky[1]) {
				return true
			}
		}
	}
	return false
}
