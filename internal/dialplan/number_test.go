package dialplan

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// classifyReference is Classify as phonenumbers documents the steps: parse, IsValidNumber,
// then the number's type and region.
func classifyReference(number, country string) (string, Class) {
	if country != "" && len(number) <= maxEmergencyLen && phonenumbers.IsEmergencyNumber(number, country) {
		return "", ClassEmergency
	}
	num, err := phonenumbers.Parse(number, country)
	if err != nil {
		return "", ClassInvalid
	}
	if !phonenumbers.IsValidNumber(num) {
		if country != "" && phonenumbers.IsValidShortNumberForRegion(num, country) {
			return "", ClassSpecial
		}
		return "", ClassInvalid
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST:
		return e164, ClassPremium
	}
	if phonenumbers.GetRegionCodeForNumber(num) != country {
		return e164, ClassInternational
	}
	return e164, ClassNational
}

// TestClassifyMatchesReference: for every region's example numbers of every type, dialled in
// national and international form from that region and from Germany, and for random digit
// strings, Classify answers what the reference steps answer, the first time (computed) and
// the second (remembered).
func TestClassifyMatchesReference(t *testing.T) {
	regions := make([]string, 0, 256)
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	types := []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
		phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER,
		phonenumbers.PAGER, phonenumbers.UAN, phonenumbers.VOICEMAIL}
	type input struct{ number, country string }
	var in []input
	for _, r := range regions {
		for _, typ := range types {
			n := phonenumbers.GetExampleNumberForType(r, typ)
			if n == nil {
				continue
			}
			for _, f := range []phonenumbers.PhoneNumberFormat{phonenumbers.NATIONAL, phonenumbers.E164, phonenumbers.INTERNATIONAL} {
				s := phonenumbers.Format(n, f)
				in = append(in, input{s, r}, input{s, "DE"})
			}
		}
		in = append(in, input{"112", r}, input{"911", r}, input{"110", r})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		n := fmt.Sprintf("%020d", rng.Uint64())[:3+rng.IntN(14)]
		switch rng.IntN(3) {
		case 0:
			n = "0" + n
		case 1:
			n = "+" + n
		}
		in = append(in, input{n, regions[rng.IntN(len(regions))]}, input{n, "DE"})
	}
	clear(classCache.m)
	for round := range 2 {
		for _, c := range in {
			we, wc := classifyReference(c.number, c.country)
			e, cl := Classify(c.number, c.country)
			if e != we || cl != wc {
				t.Fatalf("round %d: %q in %s: %q %s, reference %q %s", round, c.number, c.country, e, cl, we, wc)
			}
		}
	}
	if len(in) < 5000 {
		t.Fatalf("only %d inputs", len(in))
	}
}

// TestClassifyCacheBounded: the remembered numbers never exceed classCacheSize.
func TestClassifyCacheBounded(t *testing.T) {
	for i := range classCacheSize + 100 {
		Classify(fmt.Sprintf("030%07d", i), "DE")
		if n := len(classCache.m); n > classCacheSize {
			t.Fatalf("%d numbers remembered", n)
		}
	}
}
