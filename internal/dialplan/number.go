package dialplan

import (
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Class is what kind of destination an outside number is, as far as the toll-fraud guard
// is concerned.
type Class string

const (
	ClassEmergency     Class = "emergency"     // never blocked
	ClassNational      Class = "national"      // fixed or mobile in the tenant's country
	ClassInternational Class = "international" // another country
	ClassPremium       Class = "premium"       // premium rate or shared cost, any country
	ClassSpecial       Class = "special"       // a short or service number of the country
	ClassInvalid       Class = "invalid"       // not a number phonenumbers knows
)

// maxEmergencyLen bounds the emergency numbers of every country (112, 911, 000, 118 ...).
const maxEmergencyLen = 6

// Classify normalises an outside number to E.164 for the tenant's country (ISO 3166 code,
// "DE") and says what class it is. Emergency and special numbers keep their digits (e164
// is then "").
//
// The answer depends only on the number, the country and the metadata compiled in, so the
// numbers classified last are remembered (classCacheSize of them): a number dialled again,
// a call back, a customer's number, skips phonenumbers' regular expressions.
func Classify(number, country string) (e164 string, class Class) {
	country = strings.ToUpper(country)
	k := classKey{number, country}
	if c, ok := classCache.get(k); ok {
		return c.e164, c.class
	}
	e164, class = classify(number, country)
	if len(number) <= maxNumberLen {
		classCache.put(k, classified{e164, class})
	}
	return e164, class
}

func classify(number, country string) (e164 string, class Class) {
	// Emergency numbers are short everywhere; the check is costly, so only short numbers
	// take it.
	if country != "" && len(number) <= maxEmergencyLen && phonenumbers.IsEmergencyNumber(number, country) {
		return "", ClassEmergency
	}
	num, err := phonenumbers.Parse(number, country)
	if err != nil {
		return "", ClassInvalid
	}
	// GetNumberType is UNKNOWN exactly when IsValidNumber is false (both match the national
	// number against the region's patterns); asking once saves the second match.
	typ := phonenumbers.GetNumberType(num)
	if typ == phonenumbers.UNKNOWN {
		if country != "" && phonenumbers.IsValidShortNumberForRegion(num, country) {
			return "", ClassSpecial
		}
		return "", ClassInvalid
	}
	e164 = phonenumbers.Format(num, phonenumbers.E164)
	switch typ {
	case phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST:
		return e164, ClassPremium
	}
	if phonenumbers.GetRegionCodeForNumber(num) != country {
		return e164, ClassInternational
	}
	return e164, ClassNational
}

// The classification cache: a map under a mutex, emptied when full (a cheap, bounded way to
// keep the numbers of the last while).
const (
	classCacheSize = 1 << 14
	maxNumberLen   = 32 // longer input is never remembered
)

type classKey struct{ number, country string }

type classified struct {
	e164  string
	class Class
}

type classMemo struct {
	mu sync.Mutex
	m  map[classKey]classified
}

var classCache = &classMemo{m: make(map[classKey]classified)}

func (c *classMemo) get(k classKey) (classified, bool) {
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	return v, ok
}

func (c *classMemo) put(k classKey, v classified) {
	c.mu.Lock()
	if len(c.m) >= classCacheSize {
		clear(c.m)
	}
	c.m[k] = v
	c.mu.Unlock()
}
