package directory

import "testing"

func TestCologne(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"wikipedia", "3412"},
		{"muller ludenscheidt", "65752682"},
		{"muller", "657"},
		{"mueler", "657"},
		{"mueller", "657"},
		{"meier", "67"},
		{"mayr", "67"},
		{"schmidt", "862"},
		{"schmitt", "862"},
		{"breschnew", "17863"},
		{"christoph", "47823"},
		{"xaver", "4837"},
	} {
		in := ""
		for _, tk := range tokens(c.in) {
			in += tk
		}
		if got := Cologne(in); got != c.want {
			t.Errorf("Cologne(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMetaphone(t *testing.T) {
	same := [][2]string{{"smith", "smyth"}, {"philips", "filips"}, {"knight", "nite"}, {"catherine", "kathryn"}, {"stephen", "steven"}}
	for _, p := range same {
		if a, b := Metaphone(p[0]), Metaphone(p[1]); a != b {
			t.Errorf("Metaphone(%q) = %q, Metaphone(%q) = %q: want equal", p[0], a, p[1], b)
		}
	}
	differ := [][2]string{{"smith", "jones"}, {"brown", "green"}}
	for _, p := range differ {
		if a, b := Metaphone(p[0]), Metaphone(p[1]); a == b {
			t.Errorf("Metaphone(%q) = Metaphone(%q) = %q: want different", p[0], p[1], a)
		}
	}
}

func TestFold(t *testing.T) {
	for in, want := range map[string]string{"Müller": "muller", "Weiß": "weiss", "Łukasz": "lukasz", "Chloé": "chloe", "O'Brien": "o brien", "Şahin": "sahin", "ABC": "abc"} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}
